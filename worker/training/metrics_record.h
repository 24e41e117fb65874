// One record of training metrics, written as a progress line for people and as one JSON object
// per line (--metrics_out) for plots and scripts.
#ifndef PS_WORKER_TRAINING_METRICS_RECORD_H_
#define PS_WORKER_TRAINING_METRICS_RECORD_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace ps {

class MetricsRecord {
 public:
  using Value = std::variant<double, int64_t, std::string>;

  // Sets `key`, replacing an earlier value; keys keep their first insertion order.
  MetricsRecord& Set(const std::string& key, Value value);
  // The value of `key`, or nullptr.
  const Value* Find(const std::string& key) const;
  // Copies every field of `other` into this record.
  MetricsRecord& Merge(const MetricsRecord& other);

  // {"key": value, ...} on one line; non-finite doubles become null.
  std::string ToJson() const;

 private:
  std::vector<std::pair<std::string, Value>> fields_;
};

// Appends records to a JSON-lines file, flushing each so a crash loses nothing written.
class MetricsLog {
 public:
  // An empty path gives a log that writes nothing. Errors: what opening the file returns.
  // With `append`, records go after what the file holds (a worker resuming its rank's job keeps
  // the records of the incarnation before it).
  static absl::StatusOr<MetricsLog> Open(const std::string& path, bool append = false);

  // Writes `record` (nothing without a file) and hands it to the observer, if any.
  absl::Status Write(const MetricsRecord& record);

  // Also hands every record written from now on to `observer` (e.g. to report progress to the
  // coordinator and Prometheus), on the writing thread.
  void set_observer(std::function<void(const MetricsRecord&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  explicit MetricsLog(std::FILE* file) : file_(file, &std::fclose) {}

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::function<void(const MetricsRecord&)> observer_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_METRICS_RECORD_H_
