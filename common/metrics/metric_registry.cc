#include "common/metrics/metric_registry.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace ps {
namespace {

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

bool ValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// A sample value as Prometheus parses it: integers without a fraction, special values by name.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  // The shortest text that reads back as the same double, as Prometheus' own clients write.
  char text[64];
  const std::to_chars_result written = std::to_chars(text, text + sizeof(text), value);
  return std::string(text, written.ptr);
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelText(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "";
  std::vector<std::string> parts;
  parts.reserve(labels.size());
  for (const auto& [name, value] : labels) {
    parts.push_back(absl::StrCat(name, "=\"", EscapeLabelValue(value), "\""));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

std::vector<std::pair<std::string, std::string>> Zip(const std::vector<std::string>& names,
                                                     const LabelValues& values) {
  std::vector<std::pair<std::string, std::string>> labels;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    labels.emplace_back(names[i], values[i]);
  }
  return labels;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// The standard process_* metrics every Prometheus client library exports.
void AddProcessMetrics(MetricRegistry& registry) {
  const double start = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  registry.AddCollector([start](Exposition& out) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                       (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    out.Add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            MetricType::kCounter, {}, cpu);
    out.Add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            MetricType::kGauge, {}, start);
    std::ifstream statm("/proc/self/statm");
    double pages_total = 0, pages_resident = 0;
    if (statm >> pages_total >> pages_resident) {
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      out.Add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
              {}, pages_resident * page);
      out.Add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
              {}, pages_total * page);
    }
  });
}

}  // namespace

void Counter::Add(double amount) {
  if (amount > 0) AtomicAdd(value_, amount);
}

void Gauge::Add(double amount) { AtomicAdd(value_, amount); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

std::vector<double> LatencySecondsBuckets() { return ExponentialBuckets(50e-6, 2.0, 20); }

void Exposition::Add(absl::string_view name, absl::string_view help, MetricType type,
                     const std::vector<std::pair<std::string, std::string>>& labels, double value) {
  Family& family = families_[std::string(name)];
  if (family.lines.empty() && family.help.empty()) {
    family.help = std::string(help);
    family.type = type;
  }
  family.lines.push_back(absl::StrCat(name, LabelText(labels), " ", FormatValue(value)));
}

void Exposition::AddHistogram(absl::string_view name, absl::string_view help,
                              const std::vector<std::pair<std::string, std::string>>& labels,
                              const Histogram::Snapshot& histogram) {
  Family& family = families_[std::string(name)];
  if (family.lines.empty() && family.help.empty()) {
    family.help = std::string(help);
    family.type = MetricType::kHistogram;
  }
  for (size_t i = 0; i < histogram.cumulative.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> with_le = labels;
    with_le.emplace_back(
        "le", i < histogram.bounds.size() ? FormatValue(histogram.bounds[i]) : std::string("+Inf"));
    family.lines.push_back(absl::StrCat(name, "_bucket", LabelText(with_le), " ",
                                        FormatValue(histogram.cumulative[i])));
  }
  family.lines.push_back(
      absl::StrCat(name, "_sum", LabelText(labels), " ", FormatValue(histogram.sum)));
  family.lines.push_back(absl::StrCat(name, "_count", LabelText(labels), " ",
                                      FormatValue(histogram.cumulative.back())));
}

std::string Exposition::Text() const {
  std::string text;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&text, "# HELP ", name, " ", EscapeHelp(family.help), "\n# TYPE ", name, " ",
                    TypeName(family.type), "\n");
    for (const std::string& line : family.lines) absl::StrAppend(&text, line, "\n");
  }
  return text;
}

void MetricRegistry::CheckNew(const std::string& name, const std::vector<std::string>& label_names,
                              MetricType type) {
  std::string problem;
  if (!ValidName(name, /*allow_colon=*/true)) problem = "not a valid metric name";
  const bool total = absl::EndsWith(name, "_total");
  if (type == MetricType::kCounter && !total) problem = "a counter's name must end in _total";
  if (type != MetricType::kCounter && total) problem = "only counters end in _total";
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) problem = "added twice";
  for (const std::string& label : label_names) {
    if (!ValidName(label, /*allow_colon=*/false) || absl::StartsWith(label, "__") ||
        label == "le") {
      problem = absl::StrCat("bad label name '", label, "'");
    }
  }
  if (!problem.empty()) {
    // Before any logger may exist (metrics are registered by static initialisers too).
    std::fprintf(stderr, "metric %s: %s\n", name.c_str(), problem.c_str());
    std::abort();
  }
  names_.push_back(name);
}

Family<Counter>& MetricRegistry::AddCounter(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names, MetricType::kCounter);
  counters_.push_back(std::make_unique<Family<Counter>>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }));
  return *counters_.back();
}

Family<Gauge>& MetricRegistry::AddGauge(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names, MetricType::kGauge);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                                    [] { return std::make_unique<Gauge>(); }));
  return *gauges_.back();
}

Family<Histogram>& MetricRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names, MetricType::kHistogram);
  std::sort(bounds.begin(), bounds.end());
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); }));
  return *histograms_.back();
}

int MetricRegistry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.emplace(next_collector_, std::move(collector));
  return next_collector_++;
}

void MetricRegistry::RemoveCollector(int id) {
  absl::MutexLock collecting(&collecting_);
  absl::MutexLock lock(&mu_);
  collectors_.erase(id);
}

std::string MetricRegistry::Render() const {
  Exposition exposition;
  // Collectors run outside mu_ (they may take locks that also guard metric updates), but inside
  // collecting_, which RemoveCollector takes first.
  absl::MutexLock collecting(&collecting_);
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& family : counters_) {
      family->ForEach([&](const LabelValues& values, const Counter& counter) {
        exposition.Add(family->name(), family->help(), MetricType::kCounter,
                       Zip(family->label_names(), values), counter.value());
      });
    }
    for (const auto& family : gauges_) {
      family->ForEach([&](const LabelValues& values, const Gauge& gauge) {
        exposition.Add(family->name(), family->help(), MetricType::kGauge,
                       Zip(family->label_names(), values), gauge.value());
      });
    }
    for (const auto& family : histograms_) {
      family->ForEach([&](const LabelValues& values, const Histogram& histogram) {
        exposition.AddHistogram(family->name(), family->help(), Zip(family->label_names(), values),
                                histogram.snapshot());
      });
    }
    for (const auto& [id, collector] : collectors_) collectors.push_back(collector);
  }
  // Outside the lock: a collector may take locks of its own that also guard metric updates.
  for (const Collector& collector : collectors) collector(exposition);
  return exposition.Text();
}

MetricRegistry& GlobalMetrics() {
  static MetricRegistry* const registry = [] {
    auto* created = new MetricRegistry();
    AddProcessMetrics(*created);
    return created;
  }();
  return *registry;
}

}  // namespace ps
