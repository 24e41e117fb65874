#include "worker/training/training_loop.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

double Megabytes(uint64_t bytes) { return bytes / 1e6; }

// Seconds spent inside the client's data-plane calls.
double WaitSeconds(const ClientStats& traffic) {
  return absl::ToDoubleSeconds(traffic.pull_time + traffic.push_time + traffic.push_pull_time);
}

// How many times fewer bytes travelled than float32 values would have taken (1 when nothing did).
double CompressionRatio(uint64_t bytes, uint64_t dense_equivalent_bytes) {
  return bytes == 0 ? 1.0 : static_cast<double>(dense_equivalent_bytes) / bytes;
}

// Compute time so far (StepStats::compute, compute_cpu).
struct ComputeTime {
  absl::Duration wall;
  absl::Duration cpu;
  void Add(const StepStats& step) {
    wall += step.compute;
    cpu += step.compute_cpu;
  }
  absl::Duration contention() const { return std::max(absl::ZeroDuration(), wall - cpu); }
};

// Of the wait, what was neither the servers' work nor a barrier: transfer and client work.
double TransferSeconds(const ClientStats& traffic) {
  return std::max(0.0, WaitSeconds(traffic) - absl::ToDoubleSeconds(traffic.server_push_time) -
                           absl::ToDoubleSeconds(traffic.parked_time));
}

// Traffic fields shared by every record; `steps` taken so far.
void AddTraffic(const ClientStats& traffic, const ComputeTime& compute, int64_t steps,
                MetricsRecord& record) {
  const double per_step = 1.0 / std::max<int64_t>(1, steps);
  record.Set("bytes_pushed", static_cast<int64_t>(traffic.bytes_pushed))
      .Set("bytes_pulled", static_cast<int64_t>(traffic.bytes_pulled))
      .Set("dense_equivalent_bytes_pushed",
           static_cast<int64_t>(traffic.dense_equivalent_bytes_pushed))
      .Set("dense_equivalent_bytes_pulled",
           static_cast<int64_t>(traffic.dense_equivalent_bytes_pulled))
      .Set("bytes_pushed_per_step", traffic.bytes_pushed * per_step)
      .Set("push_compression_ratio",
           CompressionRatio(traffic.bytes_pushed, traffic.dense_equivalent_bytes_pushed))
      .Set("pull_compression_ratio",
           CompressionRatio(traffic.bytes_pulled, traffic.dense_equivalent_bytes_pulled))
      .Set("wait_seconds", WaitSeconds(traffic))
      .Set("transfer_seconds", TransferSeconds(traffic))
      .Set("server_push_seconds", absl::ToDoubleSeconds(traffic.server_push_time))
      .Set("barrier_wait_seconds", absl::ToDoubleSeconds(traffic.parked_time))
      .Set("compute_seconds", absl::ToDoubleSeconds(compute.wall))
      .Set("cpu_contention_seconds", absl::ToDoubleSeconds(compute.contention()));
}

// "pushed 12.3 MB (18.8 KB/step; dense 940.6 KB/step, 50.0x) pulled ... waiting 1.2 s
// (transfer 0.8, servers 0.1, barrier 0.3), computing 2.0 s (0.4 s without a CPU)".
std::string TrafficText(const ClientStats& traffic, const ComputeTime& compute, int64_t steps) {
  const double per_step = 1e-3 / std::max<int64_t>(1, steps);
  auto direction = [&](const char* verb, uint64_t bytes, uint64_t dense) {
    return absl::StrFormat("%s %.1f MB (%.1f KB/step; dense %.1f KB/step, %.1fx)", verb,
                           Megabytes(bytes), bytes * per_step, dense * per_step,
                           CompressionRatio(bytes, dense));
  };
  return absl::StrCat(
      direction("pushed", traffic.bytes_pushed, traffic.dense_equivalent_bytes_pushed), " ",
      direction("pulled", traffic.bytes_pulled, traffic.dense_equivalent_bytes_pulled),
      absl::StrFormat(" waiting %.1f s (transfer %.1f, servers %.1f, barrier %.1f), computing "
                      "%.1f s (%.1f s without a CPU)",
                      WaitSeconds(traffic), TransferSeconds(traffic),
                      absl::ToDoubleSeconds(traffic.server_push_time),
                      absl::ToDoubleSeconds(traffic.parked_time),
                      absl::ToDoubleSeconds(compute.wall),
                      absl::ToDoubleSeconds(compute.contention())));
}

// "test_accuracy 0.8912 test_loss 0.31" from an evaluation record.
std::string EvaluationText(const MetricsRecord& evaluation) {
  std::string text;
  for (const char* key : {"test_accuracy", "test_loss", "test_auc", "test_logloss",
                          "baseline_logloss"}) {
    if (const MetricsRecord::Value* value = evaluation.Find(key)) {
      absl::StrAppend(&text, text.empty() ? "" : " ", key, " ",
                      absl::StrFormat("%.4f", std::get<double>(*value)));
    }
  }
  return text;
}

// Sums step statistics over an interval.
struct Interval {
  StepStats sums;
  absl::Duration compute;

  void Add(const StepStats& step) {
    sums.loss_sum += step.loss_sum;
    sums.correct += step.correct;
    sums.examples += step.examples;
  }
};

}  // namespace

absl::StatusOr<MetricsRecord> RunTraining(TrainingTask& task, const TrainingLoopOptions& options,
                                          MetricsLog& log) {
  const absl::Time start = absl::Now();
  absl::Duration train_time;
  int64_t total_examples = 0;
  int64_t steps_done = 0;
  ComputeTime compute;
  MetricsRecord evaluation;
  const int64_t total_steps = options.epochs * options.steps_per_epoch;
  const int64_t start_step = std::clamp<int64_t>(options.start_step, 0, total_steps);
  const int first_epoch = static_cast<int>(start_step / options.steps_per_epoch);
  if (start_step > 0) {
    spdlog::info("{}resuming after step {} of {}: epoch {}/{} step {}/{}", options.label,
                 start_step, total_steps, first_epoch + 1, options.epochs,
                 start_step % options.steps_per_epoch + 1, options.steps_per_epoch);
    // Each epoch's order is a shuffle of the previous one: replay them.
    for (int epoch = 0; epoch < first_epoch; ++epoch) task.BeginEpoch(epoch);
  }
  if (first_epoch == options.epochs) {
    spdlog::info("{}every step of the job was done already", options.label);
    PS_ASSIGN_OR_RETURN(evaluation, task.Evaluate());
  }
  for (int epoch = first_epoch; epoch < options.epochs; ++epoch) {
    task.BeginEpoch(epoch);
    Interval epoch_stats, interval;
    absl::Time interval_start = absl::Now();
    const absl::Time epoch_start = interval_start;
    const int64_t first_step = epoch == first_epoch ? start_step % options.steps_per_epoch : 0;
    for (int64_t step = first_step; step < options.steps_per_epoch; ++step) {
      PS_ASSIGN_OR_RETURN(const StepStats stats, task.Step(step));
      ++steps_done;
      if (options.on_step) options.on_step(epoch * options.steps_per_epoch + step + 1);
      compute.Add(stats);
      epoch_stats.Add(stats);
      interval.Add(stats);
      const bool last = step + 1 == options.steps_per_epoch;
      if (options.log_every_steps <= 0 || ((step + 1) % options.log_every_steps != 0) || last) {
        continue;
      }
      const absl::Time now = absl::Now();
      const double seconds = absl::ToDoubleSeconds(now - interval_start);
      const double loss = interval.sums.loss_sum / interval.sums.examples;
      const double accuracy = double(interval.sums.correct) / interval.sums.examples;
      const double rate = interval.sums.examples / seconds;
      const ClientStats traffic = task.traffic();
      spdlog::info("{}epoch {}/{} step {}/{} loss {:.4f}{} {:.0f} examples/s {}", options.label,
                   epoch + 1, options.epochs, step + 1, options.steps_per_epoch, loss,
                   task.reports_accuracy() ? absl::StrFormat(" train_accuracy %.4f", accuracy) : "",
                   rate, TrafficText(traffic, compute, steps_done));
      MetricsRecord record;
      record.Set("event", std::string("progress"))
          .Set("epoch", int64_t{epoch + 1})
          .Set("step", epoch * options.steps_per_epoch + step + 1)
          .Set("loss", loss)
          .Set("examples_per_sec", rate)
          .Set("elapsed_seconds", absl::ToDoubleSeconds(now - start));
      if (task.reports_accuracy()) record.Set("train_accuracy", accuracy);
      AddTraffic(traffic, compute, steps_done, record);
      PS_RETURN_IF_ERROR(log.Write(record));
      interval = Interval();
      interval_start = now;
    }
    const absl::Duration epoch_time = absl::Now() - epoch_start;
    train_time += epoch_time;
    total_examples += epoch_stats.sums.examples;
    PS_ASSIGN_OR_RETURN(evaluation, task.Evaluate());
    const int64_t examples = std::max<int64_t>(1, epoch_stats.sums.examples);
    const double loss = epoch_stats.sums.loss_sum / examples;
    const double accuracy = double(epoch_stats.sums.correct) / examples;
    const double rate = epoch_stats.sums.examples / absl::ToDoubleSeconds(epoch_time);
    const ClientStats traffic = task.traffic();
    spdlog::info("{}epoch {}/{} done in {:.1f} s: loss {:.4f}{} {} {:.0f} examples/s {}",
                 options.label, epoch + 1, options.epochs, absl::ToDoubleSeconds(epoch_time), loss,
                 task.reports_accuracy() ? absl::StrFormat(" train_accuracy %.4f", accuracy) : "",
                 EvaluationText(evaluation), rate, TrafficText(traffic, compute, steps_done));
    MetricsRecord record;
    record.Set("event", std::string("epoch"))
        .Set("epoch", int64_t{epoch + 1})
        .Set("step", (epoch + 1) * options.steps_per_epoch)
        .Set("loss", loss)
        .Set("epoch_seconds", absl::ToDoubleSeconds(epoch_time))
        .Set("examples_per_sec", rate)
        .Set("elapsed_seconds", absl::ToDoubleSeconds(absl::Now() - start));
    if (task.reports_accuracy()) record.Set("train_accuracy", accuracy);
    record.Merge(evaluation);
    AddTraffic(traffic, compute, steps_done, record);
    PS_RETURN_IF_ERROR(log.Write(record));
  }

  MetricsRecord final_record;
  final_record.Set("event", std::string("final"));
  final_record.Merge(evaluation)
      .Set("epochs", int64_t{options.epochs})
      .Set("examples", total_examples)
      .Set("examples_per_sec", total_examples / std::max(1e-9, absl::ToDoubleSeconds(train_time)))
      .Set("train_seconds", absl::ToDoubleSeconds(train_time))
      .Set("elapsed_seconds", absl::ToDoubleSeconds(absl::Now() - start));
  AddTraffic(task.traffic(), compute, steps_done, final_record);
  PS_RETURN_IF_ERROR(log.Write(final_record));
  return final_record;
}

}  // namespace ps
