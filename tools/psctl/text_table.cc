#include "tools/psctl/text_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace ps::psctl {

Cell::Cell(std::string value) : text(std::move(value)) { json.set_string_value(text); }

Cell::Cell(const char* value) : Cell(std::string(value)) {}

Cell Cell::Integer(int64_t value) {
  Cell cell(absl::StrCat(value));
  cell.json.set_number_value(static_cast<double>(value));
  return cell;
}

Cell Cell::Number(double value, std::string text) {
  Cell cell(std::move(text));
  cell.json.set_number_value(value);
  return cell;
}

Cell Cell::Ids(const std::vector<uint32_t>& ids) {
  Cell cell(ids.empty() ? "-" : absl::StrJoin(ids, ","));
  google::protobuf::ListValue& list = *cell.json.mutable_list_value();
  for (uint32_t id : ids) list.add_values()->set_number_value(id);
  return cell;
}

Cell Cell::None() {
  Cell cell("-");
  cell.json.set_null_value(google::protobuf::NULL_VALUE);
  return cell;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<Cell> cells) { rows_.push_back(std::move(cells)); }

std::string Table::ToText() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = columns_[i].heading.size();
    for (const std::vector<Cell>& row : rows_) widths[i] = std::max(widths[i], row[i].text.size());
  }
  const auto line = [&widths](const std::vector<std::string>& texts) {
    std::string out;
    for (size_t i = 0; i < texts.size(); ++i) {
      absl::StrAppend(&out, texts[i], std::string(widths[i] - texts[i].size() + 2, ' '));
    }
    return absl::StrCat(absl::StripTrailingAsciiWhitespace(out), "\n");
  };
  std::vector<std::string> headings;
  for (const Column& column : columns_) headings.push_back(column.heading);
  std::string out = line(headings);
  for (const std::vector<Cell>& row : rows_) {
    std::vector<std::string> texts;
    for (const Cell& cell : row) texts.push_back(cell.text);
    absl::StrAppend(&out, line(texts));
  }
  return out;
}

std::string Table::ToJson() const {
  // Objects written here rather than as a protobuf Struct, whose map would print its keys in
  // hash order: scripts and people reading the JSON find them in column order.
  std::string json = "[";
  for (size_t row = 0; row < rows_.size(); ++row) {
    absl::StrAppend(&json, row == 0 ? "{" : ",{");
    for (size_t i = 0; i < columns_.size(); ++i) {
      std::string value;
      (void)google::protobuf::util::MessageToJsonString(rows_[row][i].json, &value);
      absl::StrAppend(&json, i == 0 ? "" : ",", "\"", columns_[i].key, "\":", value);
    }
    absl::StrAppend(&json, "}");
  }
  return absl::StrCat(json, "]");
}

std::string MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing fails only for messages that cannot be JSON (an Any of an unknown type), which
  // psctl never prints.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace ps::psctl
