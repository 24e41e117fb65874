#include "worker/training/metrics_record.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ps {
namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct JsonValue {
  std::string operator()(double value) const {
    return std::isfinite(value) ? absl::StrFormat("%.6g", value) : "null";
  }
  std::string operator()(int64_t value) const { return absl::StrCat(value); }
  std::string operator()(const std::string& value) const { return JsonString(value); }
};

}  // namespace

MetricsRecord& MetricsRecord::Set(const std::string& key, Value value) {
  for (auto& field : fields_) {
    if (field.first == key) {
      field.second = std::move(value);
      return *this;
    }
  }
  fields_.emplace_back(key, std::move(value));
  return *this;
}

const MetricsRecord::Value* MetricsRecord::Find(const std::string& key) const {
  for (const auto& field : fields_) {
    if (field.first == key) return &field.second;
  }
  return nullptr;
}

MetricsRecord& MetricsRecord::Merge(const MetricsRecord& other) {
  for (const auto& field : other.fields_) Set(field.first, field.second);
  return *this;
}

std::string MetricsRecord::ToJson() const {
  std::string out = "{";
  for (size_t i = 0; i < fields_.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", JsonString(fields_[i].first), ": ",
                    std::visit(JsonValue{}, fields_[i].second));
  }
  return out + "}";
}

absl::StatusOr<MetricsLog> MetricsLog::Open(const std::string& path, bool append) {
  if (path.empty()) return MetricsLog(nullptr);
  std::FILE* file = std::fopen(path.c_str(), append ? "a" : "w");
  if (file == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open metrics file ", path, ": ", std::strerror(errno)));
  }
  return MetricsLog(file);
}

absl::Status MetricsLog::Write(const MetricsRecord& record) {
  if (observer_) observer_(record);
  if (file_ == nullptr) return absl::OkStatus();
  const std::string line = record.ToJson() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0) {
    return absl::DataLossError(absl::StrCat("writing the metrics file: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace ps
