#include "worker/job/training_report.h"

#include <string>

#include "gtest/gtest.h"

namespace ps {
namespace {

TrainingReportOptions Options() {
  TrainingReportOptions options;
  options.epochs = 3;
  options.steps = 300;
  options.device = "cpu (test)";
  options.rank = 1;
  return options;
}

TEST(TrainingReportTest, RecordsBecomeProgressAndMetrics) {
  MetricRegistry registry;
  TrainingReport report(Options(), /*client=*/nullptr, registry);
  MetricsRecord progress;
  progress.Set("event", std::string("progress"))
      .Set("epoch", int64_t{1})
      .Set("step", int64_t{50})
      .Set("loss", 0.75)
      .Set("train_accuracy", 0.5)
      .Set("examples_per_sec", 1000.0)
      .Set("elapsed_seconds", 2.0)
      .Set("compute_seconds", 1.25)
      .Set("barrier_wait_seconds", 0.25)
      .Set("push_compression_ratio", 4.0);
  report.Take(progress);
  MetricsRecord other;
  other.Set("event", std::string("checkpoint"));
  report.Take(other);  // Not a training record: ignored.

  const v1::WorkerProgress p = report.progress();
  EXPECT_EQ(p.reports(), 1u);
  EXPECT_EQ(p.epoch(), 1u);
  EXPECT_EQ(p.epochs(), 3u);
  EXPECT_EQ(p.step(), 50u);
  EXPECT_EQ(p.steps(), 300u);
  EXPECT_EQ(p.loss(), 0.75);
  EXPECT_EQ(p.train_accuracy(), 0.5);
  EXPECT_FALSE(p.has_test_accuracy());
  EXPECT_EQ(p.device(), "cpu (test)");

  const std::string text = registry.Render();
  EXPECT_NE(text.find("ps_worker_step{rank=\"1\"} 50\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ps_worker_loss{rank=\"1\"} 0.75\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ps_worker_compute_seconds_total{rank=\"1\"} 1.25\n"), std::string::npos);
  EXPECT_NE(text.find("ps_worker_info{rank=\"1\",device=\"cpu (test)\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("ps_worker_test_accuracy"), std::string::npos) << "not before an epoch";

  MetricsRecord epoch;
  epoch.Set("event", std::string("epoch"))
      .Set("epoch", int64_t{1})
      .Set("step", int64_t{100})
      .Set("loss", 0.5)
      .Set("test_accuracy", 0.625);
  report.Take(epoch);
  MetricsRecord final_record;
  final_record.Set("event", std::string("final")).Set("test_accuracy", 0.75);
  report.Take(final_record);
  EXPECT_EQ(report.progress().reports(), 3u);
  EXPECT_EQ(report.progress().step(), 300u) << "the final record completes the job";
  EXPECT_EQ(report.progress().epoch(), 3u);
  EXPECT_EQ(report.progress().test_accuracy(), 0.75);
  EXPECT_NE(registry.Render().find("ps_worker_test_accuracy{rank=\"1\"} 0.75\n"),
            std::string::npos);
}

TEST(TrainingReportTest, TheCollectorLeavesWithTheReport) {
  MetricRegistry registry;
  { TrainingReport report(Options(), nullptr, registry); }
  EXPECT_EQ(registry.Render(), "");
}

}  // namespace
}  // namespace ps
