// The figures of a benchmark as curves: each curve is a small table of numbers (one row per
// point, one column per quantity, the x axis first) that is printed for people and written as
// files for plotting. One thread only; plain values, no ownership.
#ifndef PS_TESTS_BENCH_CURVE_REPORT_H_
#define PS_TESTS_BENCH_CURVE_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ps::bench {

struct Curve {
  // [a-z0-9_]+: the file name of its CSV and its key in the JSON.
  std::string name;
  // One line saying what was measured, how, and in which units.
  std::string title;
  // Column names with their unit, e.g. "push_GBps"; the first is the x axis.
  std::vector<std::string> columns;
  // REQUIRES: every row has columns.size() values.
  std::vector<std::vector<double>> rows;
};

// Prints `curve` as a Markdown table headed by its title.
void PrintCurve(const Curve& curve, std::FILE* out);

// Writes DIRECTORY/<name>.csv for each curve (a header line, then the rows) and
// DIRECTORY/curves.json with all of them ({"curves": [{"name", "title", "columns", "rows"}]}),
// creating DIRECTORY if needed. Errors: Internal when a file cannot be written.
absl::Status WriteCurves(const std::vector<Curve>& curves, const std::string& directory);

}  // namespace ps::bench

#endif  // PS_TESTS_BENCH_CURVE_REPORT_H_
