#include "common/metrics/metric_registry.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(MetricRegistryTest, RendersEachFamilyOnceWithHelpTypeAndLabelledSamples) {
  MetricRegistry registry;
  Family<Counter>& pushes = registry.AddCounter("ps_pushes_total", "Pushes applied.", {"table"});
  Family<Gauge>& parked = registry.AddGauge("ps_parked_pulls", "Pulls waiting.");
  pushes.With({"w"}).Add(3);
  pushes.With({"b"}).Add();
  parked.With({}).Set(2.5);
  registry.AddCollector([](Exposition& out) {
    out.Add("ps_shards_led", "Shards this server leads.", MetricType::kGauge, {{"table", "w"}}, 4);
  });

  EXPECT_EQ(registry.Render(),
            "# HELP ps_parked_pulls Pulls waiting.\n"
            "# TYPE ps_parked_pulls gauge\n"
            "ps_parked_pulls 2.5\n"
            "# HELP ps_pushes_total Pushes applied.\n"
            "# TYPE ps_pushes_total counter\n"
            "ps_pushes_total{table=\"b\"} 1\n"
            "ps_pushes_total{table=\"w\"} 3\n"
            "# HELP ps_shards_led Shards this server leads.\n"
            "# TYPE ps_shards_led gauge\n"
            "ps_shards_led{table=\"w\"} 4\n");
}

TEST(MetricRegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricRegistry registry;
  Family<Histogram>& latency =
      registry.AddHistogram("ps_pull_seconds", "Pull latency.", {"table"}, {0.25, 1, 4});
  Histogram& w = latency.With({"w"});
  for (const double seconds : {0.125, 0.25, 0.5, 2.0, 8.0}) w.Observe(seconds);

  EXPECT_EQ(registry.Render(),
            "# HELP ps_pull_seconds Pull latency.\n"
            "# TYPE ps_pull_seconds histogram\n"
            "ps_pull_seconds_bucket{table=\"w\",le=\"0.25\"} 2\n"
            "ps_pull_seconds_bucket{table=\"w\",le=\"1\"} 3\n"
            "ps_pull_seconds_bucket{table=\"w\",le=\"4\"} 4\n"
            "ps_pull_seconds_bucket{table=\"w\",le=\"+Inf\"} 5\n"
            "ps_pull_seconds_sum{table=\"w\"} 10.875\n"
            "ps_pull_seconds_count{table=\"w\"} 5\n");
}

TEST(MetricRegistryTest, LabelValuesAndHelpAreEscaped) {
  MetricRegistry registry;
  registry.AddGauge("g", "Line one\\two\nthree", {"name"}).With({"a\"b\\c\nd"}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP g Line one\\\\two\\nthree\n"
            "# TYPE g gauge\n"
            "g{name=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricRegistryTest, SpecialValuesAreSpelledAsPrometheusParsesThem) {
  MetricRegistry registry;
  Family<Gauge>& g = registry.AddGauge("g", "h", {"k"});
  g.With({"nan"}).Set(std::nan(""));
  g.With({"inf"}).Set(std::numeric_limits<double>::infinity());
  g.With({"big"}).Set(1e300);
  EXPECT_EQ(registry.Render(),
            "# HELP g h\n# TYPE g gauge\n"
            "g{k=\"big\"} 1e+300\n"
            "g{k=\"inf\"} +Inf\n"
            "g{k=\"nan\"} NaN\n");
}

TEST(MetricRegistryTest, CountersOnlyGoUpAndConcurrentUpdatesAreAllCounted) {
  MetricRegistry registry;
  Counter& counter = registry.AddCounter("c_total", "h").With({});
  Gauge& gauge = registry.AddGauge("g", "h").With({});
  Histogram& histogram = registry.AddHistogram("h_seconds", "h", {}, {1.0}).With({});
  counter.Add(-5);
  EXPECT_EQ(counter.value(), 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.Add(0.5);
        gauge.Add(-1);
        histogram.Observe(0.5);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 20000);
  EXPECT_EQ(gauge.value(), -40000);
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{40000, 40000}));
  EXPECT_EQ(snapshot.sum, 20000);
}

TEST(MetricRegistryTest, RemovedCollectorsNoLongerRun) {
  MetricRegistry registry;
  int runs = 0;
  const int id = registry.AddCollector([&runs](Exposition&) { ++runs; });
  registry.Render();
  registry.RemoveCollector(id);
  registry.Render();
  EXPECT_EQ(runs, 1);
}

TEST(MetricRegistryTest, RemovedLabelValuesAreNoLongerRendered) {
  MetricRegistry registry;
  Family<Gauge>& g = registry.AddGauge("g", "h", {"table"});
  g.With({"a"}).Set(1);
  g.With({"b"}).Set(2);
  g.Remove({"a"});
  EXPECT_EQ(registry.Render(), "# HELP g h\n# TYPE g gauge\ng{table=\"b\"} 2\n");
}

TEST(MetricRegistryDeathTest, NamesBreakingTheConventionsAbort) {
  EXPECT_DEATH(MetricRegistry().AddCounter("pushes", "h"), "must end in _total");
  EXPECT_DEATH(MetricRegistry().AddGauge("bytes_total", "h"), "only counters");
  EXPECT_DEATH(MetricRegistry().AddGauge("9lives", "h"), "not a valid metric name");
  EXPECT_DEATH(MetricRegistry().AddGauge("g", "h", {"__reserved"}), "bad label name");
  EXPECT_DEATH(MetricRegistry().AddGauge("g", "h", {"le"}), "bad label name");
  EXPECT_DEATH(
      {
        MetricRegistry registry;
        registry.AddGauge("g", "h");
        registry.AddGauge("g", "h");
      },
      "added twice");
}

}  // namespace
}  // namespace ps
