#include "tests/bench/curve_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ps::bench {
namespace {

// Enough digits to read a figure, none that are noise: integers whole, others to 4 significant.
std::string FormatValue(double value) {
  if (std::isfinite(value) && (std::fabs(value) >= 1000 || value == std::floor(value))) {
    return absl::StrFormat("%.0f", value);
  }
  return absl::StrFormat("%.4g", value);
}

// Exact enough for re-plotting: 17 significant digits round-trip a double. A missing figure is
// NaN: "nan" in CSV (gnuplot and Python read it), null in JSON.
std::string RawValue(double value, bool json) {
  if (std::isfinite(value)) return absl::StrFormat("%.17g", value);
  return json ? "null" : "nan";
}

std::string JsonString(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

void PrintCurve(const Curve& curve, std::FILE* out) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const std::string& column : curve.columns) widths.push_back(column.size());
  for (const std::vector<double>& row : curve.rows) {
    std::vector<std::string>& line = cells.emplace_back();
    for (size_t i = 0; i < row.size(); ++i) {
      line.push_back(FormatValue(row[i]));
      widths[i] = std::max(widths[i], line.back().size());
    }
  }
  const auto print_line = [&](const std::vector<std::string>& line) {
    std::string text = "|";
    for (size_t i = 0; i < line.size(); ++i) {
      absl::StrAppend(&text, " ", std::string(widths[i] - line[i].size(), ' '), line[i], " |");
    }
    std::fprintf(out, "%s\n", text.c_str());
  };
  std::fprintf(out, "\n%s\n", curve.title.c_str());
  print_line(curve.columns);
  std::string rule = "|";
  for (size_t width : widths) absl::StrAppend(&rule, std::string(width + 1, '-'), ":|");
  std::fprintf(out, "%s\n", rule.c_str());
  for (const std::vector<std::string>& line : cells) print_line(line);
  std::fflush(out);
}

absl::Status WriteCurves(const std::vector<Curve>& curves, const std::string& directory) {
  if (mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create ", directory));
  }
  std::string json = "{\"curves\": [";
  for (size_t c = 0; c < curves.size(); ++c) {
    const Curve& curve = curves[c];
    std::string csv = absl::StrCat(absl::StrJoin(curve.columns, ","), "\n");
    std::vector<std::string> json_rows;
    for (const std::vector<double>& row : curve.rows) {
      std::vector<std::string> csv_values, json_values;
      for (double value : row) {
        csv_values.push_back(RawValue(value, /*json=*/false));
        json_values.push_back(RawValue(value, /*json=*/true));
      }
      absl::StrAppend(&csv, absl::StrJoin(csv_values, ","), "\n");
      json_rows.push_back(absl::StrCat("[", absl::StrJoin(json_values, ", "), "]"));
    }
    if (absl::Status written = WriteFile(absl::StrCat(directory, "/", curve.name, ".csv"), csv);
        !written.ok()) {
      return written;
    }
    std::vector<std::string> columns;
    for (const std::string& column : curve.columns) columns.push_back(JsonString(column));
    absl::StrAppend(&json, c == 0 ? "\n" : ",\n", "  {\"name\": ", JsonString(curve.name),
                    ", \"title\": ", JsonString(curve.title), ",\n   \"columns\": [",
                    absl::StrJoin(columns, ", "), "],\n   \"rows\": [",
                    absl::StrJoin(json_rows, ", "), "]}");
  }
  absl::StrAppend(&json, "\n]}\n");
  return WriteFile(absl::StrCat(directory, "/curves.json"), json);
}

}  // namespace ps::bench
