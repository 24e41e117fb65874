// What a worker tells others about its training, from the records its training loop writes
// (worker/training/metrics_record.h): the WorkerProgress it sends the coordinator in heartbeats
// (status page, psctl workers, stragglers), and its Prometheus metrics (ps_worker_*: speed,
// loss, accuracy, the step time split, traffic and compression, its device).
//
// Thread-safety: safe for concurrent use (records arrive on the training thread, scrapes on the
// metrics endpoint's).
#ifndef PS_WORKER_JOB_TRAINING_REPORT_H_
#define PS_WORKER_JOB_TRAINING_REPORT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/metric_registry.h"
#include "proto/coordinator.pb.h"
#include "worker/client/ps_client.h"
#include "worker/training/metrics_record.h"

namespace ps {

struct TrainingReportOptions {
  uint32_t epochs = 0;
  uint64_t steps = 0;  // Of the whole job (epochs x steps per epoch).
  std::string device;  // e.g. "cpu (openblas, 2 threads)" or the GPU's name.
  uint32_t rank = 0;
};

class TrainingReport {
 public:
  // `client` (borrowed, may be null for local training) receives each new WorkerProgress and
  // gives its traffic to the metrics; `registry` (borrowed) gets a collector until destruction.
  TrainingReport(const TrainingReportOptions& options, PsClient* client, MetricRegistry& registry);
  ~TrainingReport();
  TrainingReport(const TrainingReport&) = delete;
  TrainingReport& operator=(const TrainingReport&) = delete;

  // Takes a record of the training loop ("progress", "epoch" and "final" events; others are
  // ignored) and reports the progress it brings.
  void Take(const MetricsRecord& record);

  // The progress reported so far.
  v1::WorkerProgress progress() const;

  // Writes the ps_worker_* metrics.
  void Collect(Exposition& out) const;

 private:
  const TrainingReportOptions options_;
  PsClient* const client_;
  MetricRegistry& registry_;
  int collector_ = -1;
  mutable absl::Mutex mu_;
  v1::WorkerProgress progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_WORKER_JOB_TRAINING_REPORT_H_
