// Prometheus metrics of one process: counters, gauges and histograms by label values, plus
// collectors that report values read at scrape time, rendered in the text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Served on /metrics by
// HttpEndpoint (http_endpoint.h).
//
// Conventions (https://prometheus.io/docs/practices/naming/): names carry their unit in base units
// (`_seconds`, `_bytes`) and counters end in `_total`; the registry checks names and labels as
// they are added.
//
// Thread-safety: everything is safe for concurrent use. Updating a metric is a few atomic
// operations; Family::With takes a mutex, so hot paths keep the reference it returns.
#ifndef PS_COMMON_METRICS_METRIC_REGISTRY_H_
#define PS_COMMON_METRICS_METRIC_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ps {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  // REQUIRES: amount >= 0 (a counter only goes up).
  void Add(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative buckets of observations, with their sum and count.
class Histogram {
 public:
  // `bounds`: ascending upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // Observations <= bounds[i] (cumulative); the last entry counts all of them (+Inf).
    std::vector<uint64_t> cumulative;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative.
  std::atomic<double> sum_{0.0};
};

// Bucket bounds from `start` multiplying by `factor`, `count` of them.
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// Latencies from 50 µs to about 26 s.
std::vector<double> LatencySecondsBuckets();

// What one scrape writes: samples grouped into families, each with its HELP and TYPE once.
class Exposition {
 public:
  // A counter or gauge sample. `labels`: (name, value) pairs.
  void Add(absl::string_view name, absl::string_view help, MetricType type,
           const std::vector<std::pair<std::string, std::string>>& labels, double value);
  void AddHistogram(absl::string_view name, absl::string_view help,
                    const std::vector<std::pair<std::string, std::string>>& labels,
                    const Histogram::Snapshot& histogram);
  // The text format, families sorted by name.
  std::string Text() const;

 private:
  struct Family {
    std::string help;
    MetricType type = MetricType::kGauge;
    std::vector<std::string> lines;  // Sample lines, in the order added.
  };
  std::map<std::string, Family> families_;
};

// Metrics of one name, by label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The metric of these label values, created (at zero) on first use; the reference stays valid
  // for the registry's lifetime. REQUIRES: values.size() == the number of label names.
  Metric& With(const LabelValues& values) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Metric>& metric = metrics_[values];
    if (metric == nullptr) metric = make_();
    return *metric;
  }
  // Forgets the metric of these label values (e.g. a dropped table's); references to it dangle.
  void Remove(const LabelValues& values) {
    absl::MutexLock lock(&mu_);
    metrics_.erase(values);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `visit(values, metric)` for each, in label order, under the family's lock.
  void ForEach(const std::function<void(const LabelValues&, const Metric&)>& visit) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [values, metric] : metrics_) visit(values, *metric);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> metrics_ ABSL_GUARDED_BY(mu_);
};

class MetricRegistry {
 public:
  using Collector = std::function<void(Exposition&)>;

  // The families; names must be new, valid Prometheus names ([a-zA-Z_:][a-zA-Z0-9_:]*), counters
  // ending in _total, label names valid and not starting with "__". The process aborts
  // otherwise: a metric's name is fixed in code, so a bad one is a programming error.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);
  // Runs at every scrape, after the families are written: for values cheaper to read when asked
  // (sizes, clocks, states) than to track on every change. Returns an id for RemoveCollector.
  int AddCollector(Collector collector);
  // Stops running a collector (before what it reads goes away); waits for a scrape running it.
  void RemoveCollector(int id);

  // Every family and collector's samples in the text exposition format.
  std::string Render() const;

 private:
  void CheckNew(const std::string& name, const std::vector<std::string>& label_names,
                MetricType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::map<int, Collector> collectors_ ABSL_GUARDED_BY(mu_);
  int next_collector_ ABSL_GUARDED_BY(mu_) = 0;
  // Held while collectors run (outside mu_), so that RemoveCollector can wait for them.
  mutable absl::Mutex collecting_ ABSL_ACQUIRED_BEFORE(mu_);
};

// The process's registry, with the standard process_* metrics (CPU seconds, resident memory,
// start time): daemons register their metrics here and serve it on /metrics.
MetricRegistry& GlobalMetrics();

}  // namespace ps

#endif  // PS_COMMON_METRICS_METRIC_REGISTRY_H_
