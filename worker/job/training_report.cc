#include "worker/job/training_report.h"

#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ps {
namespace {

// The record's number under `key`, if it has one.
std::optional<double> Number(const MetricsRecord& record, const std::string& key) {
  const MetricsRecord::Value* value = record.Find(key);
  if (value == nullptr) return std::nullopt;
  if (const double* d = std::get_if<double>(value)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(value)) return static_cast<double>(*i);
  return std::nullopt;
}

std::string Event(const MetricsRecord& record) {
  const MetricsRecord::Value* value = record.Find("event");
  const std::string* event = value == nullptr ? nullptr : std::get_if<std::string>(value);
  return event == nullptr ? "" : *event;
}

}  // namespace

TrainingReport::TrainingReport(const TrainingReportOptions& options, PsClient* client,
                               MetricRegistry& registry)
    : options_(options), client_(client), registry_(registry) {
  {
    absl::MutexLock lock(&mu_);
    progress_.set_epochs(options.epochs);
    progress_.set_steps(options.steps);
    progress_.set_device(options.device);
  }
  collector_ = registry_.AddCollector([this](Exposition& out) { Collect(out); });
}

TrainingReport::~TrainingReport() { registry_.RemoveCollector(collector_); }

void TrainingReport::Take(const MetricsRecord& record) {
  const std::string event = Event(record);
  if (event != "progress" && event != "epoch" && event != "final") return;
  v1::WorkerProgress progress;
  {
    absl::MutexLock lock(&mu_);
    v1::WorkerProgress& p = progress_;
    p.set_reports(p.reports() + 1);
    if (const auto epoch = Number(record, "epoch")) p.set_epoch(static_cast<uint32_t>(*epoch));
    if (const auto step = Number(record, "step")) p.set_step(static_cast<uint64_t>(*step));
    if (event == "final") {
      p.set_epoch(options_.epochs);
      p.set_step(options_.steps);
    }
    if (const auto loss = Number(record, "loss")) p.set_loss(*loss);
    if (const auto accuracy = Number(record, "train_accuracy")) p.set_train_accuracy(*accuracy);
    if (const auto accuracy = Number(record, "test_accuracy")) p.set_test_accuracy(*accuracy);
    if (const auto rate = Number(record, "examples_per_sec")) p.set_examples_per_second(*rate);
    if (const auto seconds = Number(record, "elapsed_seconds")) p.set_elapsed_seconds(*seconds);
    if (const auto seconds = Number(record, "compute_seconds")) p.set_compute_seconds(*seconds);
    if (const auto seconds = Number(record, "transfer_seconds")) p.set_transfer_seconds(*seconds);
    if (const auto seconds = Number(record, "barrier_wait_seconds")) {
      p.set_barrier_wait_seconds(*seconds);
    }
    if (const auto ratio = Number(record, "push_compression_ratio")) {
      p.set_push_compression_ratio(*ratio);
    }
    progress = p;
  }
  if (client_ != nullptr) client_->ReportTraining(progress);
}

v1::WorkerProgress TrainingReport::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

void TrainingReport::Collect(Exposition& out) const {
  const v1::WorkerProgress p = progress();
  const std::vector<std::pair<std::string, std::string>> rank = {
      {"rank", absl::StrCat(options_.rank)}};
  out.Add("ps_worker_info", "Constant 1, labelled with the worker's rank and compute device.",
          MetricType::kGauge, {{"rank", absl::StrCat(options_.rank)}, {"device", p.device()}}, 1);
  out.Add("ps_worker_epoch", "Epoch in progress (1-based).", MetricType::kGauge, rank, p.epoch());
  out.Add("ps_worker_step", "Steps of the rank done.", MetricType::kGauge, rank,
          static_cast<double>(p.step()));
  out.Add("ps_worker_steps", "Steps of the rank's whole job.", MetricType::kGauge, rank,
          static_cast<double>(p.steps()));
  out.Add("ps_worker_examples_per_second", "Training speed over the last report interval.",
          MetricType::kGauge, rank, p.examples_per_second());
  out.Add("ps_worker_loss", "Mean training loss over the last report interval.", MetricType::kGauge,
          rank, p.loss());
  if (p.has_train_accuracy()) {
    out.Add("ps_worker_train_accuracy", "Training accuracy over the last report interval.",
            MetricType::kGauge, rank, p.train_accuracy());
  }
  if (p.has_test_accuracy()) {
    out.Add("ps_worker_test_accuracy", "Test accuracy after the last finished epoch.",
            MetricType::kGauge, rank, p.test_accuracy());
  }
  out.Add("ps_worker_compute_seconds_total", "Time spent computing gradients.",
          MetricType::kCounter, rank, p.compute_seconds());
  out.Add("ps_worker_barrier_wait_seconds_total",
          "Time pulls were parked at BSP/SSP barriers waiting for slower workers.",
          MetricType::kCounter, rank, p.barrier_wait_seconds());
  out.Add("ps_worker_push_compression_ratio",
          "Dense float32 bytes per byte the worker's pushes sent (1: uncompressed).",
          MetricType::kGauge, rank,
          p.push_compression_ratio() == 0 ? 1 : p.push_compression_ratio());
  if (client_ == nullptr) return;
  const ClientStats traffic = client_->stats();
  out.Add("ps_worker_push_seconds_total", "Time inside pushes (transfer and the servers' work).",
          MetricType::kCounter, rank, absl::ToDoubleSeconds(traffic.push_time));
  out.Add("ps_worker_pull_seconds_total",
          "Time inside pulls, waiting at barriers included (see barrier_wait).",
          MetricType::kCounter, rank, absl::ToDoubleSeconds(traffic.pull_time));
  out.Add("ps_worker_push_pull_seconds_total",
          "Time inside fused push-and-pull calls (PushPull), waiting included.",
          MetricType::kCounter, rank, absl::ToDoubleSeconds(traffic.push_pull_time));
  out.Add("ps_worker_pushed_bytes_total", "Payload bytes the worker's pushes sent.",
          MetricType::kCounter, rank, static_cast<double>(traffic.bytes_pushed));
  out.Add("ps_worker_pulled_bytes_total", "Payload bytes the worker's pulls received.",
          MetricType::kCounter, rank, static_cast<double>(traffic.bytes_pulled));
  out.Add("ps_worker_retries_total", "Requests re-sent after a map change or unreachable server.",
          MetricType::kCounter, rank, static_cast<double>(traffic.retries));
}

}  // namespace ps
