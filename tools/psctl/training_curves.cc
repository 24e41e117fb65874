#include "tools/psctl/training_curves.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ps::psctl {
namespace {

// A numeric field of a record; nullopt when absent or not a number (the worker writes null for
// a value that is not finite).
std::optional<double> Number(const google::protobuf::Struct& record, const std::string& key) {
  const auto field = record.fields().find(key);
  if (field == record.fields().end() || !field->second.has_number_value()) return std::nullopt;
  return field->second.number_value();
}

std::string Text(const google::protobuf::Struct& record, const std::string& key) {
  const auto field = record.fields().find(key);
  return field == record.fields().end() ? "" : field->second.string_value();
}

}  // namespace

absl::StatusOr<TrainingCurve> ParseTrainingCurve(absl::string_view jsonl, const std::string& name) {
  TrainingCurve curve;
  // Past the last '/' (the whole name when there is none: npos + 1 is 0).
  curve.label =
      std::string(absl::StripSuffix(absl::string_view(name).substr(name.rfind('/') + 1), ".jsonl"));
  int64_t steps_per_epoch = 0;
  double clock_offset = 0, last_elapsed = 0;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    google::protobuf::Struct record;
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(line.data(), line.size()), &record);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " line ", line_number, " is not a JSON object: ", parsed.ToString()));
    }
    // Every record, also those not plotted, carries the incarnation's clock.
    const double elapsed = Number(record, "elapsed_seconds").value_or(last_elapsed);
    if (elapsed < last_elapsed) clock_offset += last_elapsed;
    last_elapsed = elapsed;
    const std::string event = Text(record, "event");
    if (event != "epoch" && event != "progress") continue;
    TrainingPoint point;
    point.epoch_end = event == "epoch";
    point.epoch = static_cast<int64_t>(Number(record, "epoch").value_or(0));
    point.step = static_cast<int64_t>(Number(record, "step").value_or(0));
    point.seconds = clock_offset + elapsed;
    point.loss = Number(record, "loss");
    point.train_accuracy = Number(record, "train_accuracy");
    point.test_accuracy = Number(record, "test_accuracy");
    // An epoch record's step is epoch * steps per epoch (training_loop.cc).
    if (point.epoch_end && point.epoch > 0 && steps_per_epoch == 0) {
      steps_per_epoch = point.step / point.epoch;
    }
    curve.points.push_back(point);
  }
  if (curve.points.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name,
                     " holds no \"epoch\" or \"progress\" record (is it a metrics file of "
                     "ps_worker --metrics_out?)"));
  }
  for (TrainingPoint& point : curve.points) {
    if (point.epoch_end) {
      point.epoch_position = static_cast<double>(point.epoch);
    } else if (steps_per_epoch > 0) {
      point.epoch_position = static_cast<double>(point.step) / steps_per_epoch;
    }
  }
  return curve;
}

absl::StatusOr<TrainingCurve> ReadTrainingCurve(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return contents.status();
  return ParseTrainingCurve(*contents, path);
}

}  // namespace ps::psctl
