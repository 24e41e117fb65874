// The training curves in a worker's --metrics_out file (JSON lines, worker/training/
// metrics_record.h): loss, train and test accuracy per finished epoch ("epoch" records) and per
// progress report ("progress" records, every --log_every_steps steps), for psctl plot. Other
// records ("final", "evaluate") are skipped. Stateless functions; safe for concurrent use.
#ifndef PS_TOOLS_PSCTL_TRAINING_CURVES_H_
#define PS_TOOLS_PSCTL_TRAINING_CURVES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ps::psctl {

struct TrainingPoint {
  // An "epoch" record (the epoch finished); otherwise a "progress" record.
  bool epoch_end = false;
  // 1-based epoch, and steps of the rank done by then.
  int64_t epoch = 0;
  int64_t step = 0;
  // Seconds since the file's first incarnation started: a worker restarted on the same file
  // (it appends) starts its clock at 0 again, so its records continue from the last time seen.
  double seconds = 0;
  // The fractional epoch the point stands at: `epoch` for an epoch's end, step / steps per epoch
  // for a progress report (nullopt while no epoch record tells the steps per epoch).
  std::optional<double> epoch_position;
  std::optional<double> loss;
  std::optional<double> train_accuracy;
  std::optional<double> test_accuracy;
};

struct TrainingCurve {
  // What the curve is called in a plot's key: the file's name without directory and .jsonl.
  std::string label;
  // In file order.
  std::vector<TrainingPoint> points;
};

// The curve in `jsonl` (the text of a metrics file), `name` naming it in errors.
// Errors: InvalidArgument for a line that is not a JSON object (naming the line), or when no
// line is an "epoch" or "progress" record.
absl::StatusOr<TrainingCurve> ParseTrainingCurve(absl::string_view jsonl, const std::string& name);

// The curve in the file at `path`, labelled by its name. Errors: the file's (NotFound, ...)
// naming the path; ParseTrainingCurve's.
absl::StatusOr<TrainingCurve> ReadTrainingCurve(const std::string& path);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_TRAINING_CURVES_H_
