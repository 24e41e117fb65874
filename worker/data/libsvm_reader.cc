#include "worker/data/libsvm_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace ps {
namespace {

// Parses one feature token, `index:value`, appending it to `dataset`; the error says what is
// wrong with it (the caller adds the file position).
absl::Status ParseFeature(absl::string_view token, absl::flat_hash_set<uint64_t>& seen,
                          SparseDataset& dataset) {
  const size_t colon = token.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature '", token, "' has no colon, expected index:value"));
  }
  const absl::string_view index_text = token.substr(0, colon);
  const absl::string_view value_text = token.substr(colon + 1);
  uint64_t index = 0;
  if (!index_text.empty() && index_text.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("feature '", token, "' has a negative index, expected one >= 0"));
  }
  if (!absl::SimpleAtoi(index_text, &index)) {
    return absl::InvalidArgumentError(absl::StrCat("feature '", token, "' has index '", index_text,
                                                   "', expected a non-negative integer"));
  }
  // key_space is the largest index + 1, which must fit (found by libsvm_fuzzer's seed corpus).
  if (index == std::numeric_limits<uint64_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feature '", token, "' has index ", index, ", expected at most ", index - 1));
  }
  float value = 0;
  if (!absl::SimpleAtof(value_text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature '", token, "' has value '", value_text, "', expected a number"));
  }
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature '", token, "' has value '", value_text, "', expected a finite one"));
  }
  if (!seen.insert(index).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature '", token, "' repeats index ", index, " within the example"));
  }
  dataset.keys.push_back(index);
  dataset.values.push_back(value);
  if (index >= dataset.key_space) dataset.key_space = index + 1;
  return absl::OkStatus();
}

absl::StatusOr<float> ParseLabel(absl::string_view token) {
  double label = 0;
  if (absl::SimpleAtod(token, &label)) {
    if (label == 1) return 1.0f;
    if (label == 0 || label == -1) return 0.0f;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("label '", token, "', expected 1 or +1 (positive) or 0 or -1 (negative)"));
}

}  // namespace

absl::StatusOr<SparseDataset> ReadLibsvm(const std::string& path) {
  errno = 0;
  std::ifstream file(path);
  if (!file.is_open()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open LIBSVM file ", path));
  }
  SparseDataset dataset;
  dataset.offsets.push_back(0);
  absl::flat_hash_set<uint64_t> seen;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(file, line)) {
    ++line_number;
    absl::string_view content = line;
    content = content.substr(0, content.find('#'));
    std::vector<absl::string_view> tokens =
        absl::StrSplit(content, absl::ByAnyChar(" \t\r\v\f"), absl::SkipEmpty());
    if (tokens.empty()) continue;
    const auto at_line = [&](const absl::Status& error) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", error.message()));
    };
    absl::StatusOr<float> label = ParseLabel(tokens[0]);
    if (!label.ok()) return at_line(label.status());
    seen.clear();
    for (size_t i = 1; i < tokens.size(); ++i) {
      if (absl::Status status = ParseFeature(tokens[i], seen, dataset); !status.ok()) {
        return at_line(status);
      }
    }
    dataset.labels.push_back(*label);
    dataset.offsets.push_back(dataset.keys.size());
  }
  if (file.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path, " after line ", line_number));
  }
  if (dataset.labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " holds no examples, expected at least one line `label index:value ...`"));
  }
  dataset.description = absl::StrCat("LIBSVM (", path, ")");
  return dataset;
}

}  // namespace ps
