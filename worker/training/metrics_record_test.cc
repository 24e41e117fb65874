#include "worker/training/metrics_record.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(MetricsRecordTest, WritesOneJsonObjectPerRecordInInsertionOrder) {
  MetricsRecord record;
  record.Set("event", std::string("final"))
      .Set("test_accuracy", 0.8912)
      .Set("bytes_pushed", int64_t{123456789012})
      .Set("bad", std::nan(""))
      .Set("note", std::string("say \"hi\"\n"));
  record.Set("test_accuracy", 0.9);  // Replaced in place.
  EXPECT_EQ(record.ToJson(),
            "{\"event\": \"final\", \"test_accuracy\": 0.9, \"bytes_pushed\": 123456789012, "
            "\"bad\": null, \"note\": \"say \\\"hi\\\"\\u000a\"}");
  MetricsRecord merged;
  merged.Set("a", int64_t{1}).Merge(record);
  EXPECT_EQ(std::get<double>(*merged.Find("test_accuracy")), 0.9);
  EXPECT_EQ(merged.Find("missing"), nullptr);
}

TEST(MetricsRecordTest, LogAppendsLinesAndReportsAnUnwritablePath) {
  const std::string path = ::testing::TempDir() + "/metrics.jsonl";
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::Open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Write(MetricsRecord().Set("step", int64_t{1})).ok());
    ASSERT_TRUE(log->Write(MetricsRecord().Set("step", int64_t{2})).ok());
  }
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  EXPECT_EQ(contents.str(), "{\"step\": 1}\n{\"step\": 2}\n");
  EXPECT_FALSE(MetricsLog::Open("/nonexistent-dir/metrics.jsonl").ok());
  absl::StatusOr<MetricsLog> disabled = MetricsLog::Open("");
  ASSERT_TRUE(disabled.ok());
  EXPECT_TRUE(disabled->Write(MetricsRecord().Set("x", 1.0)).ok());
}

}  // namespace
}  // namespace ps
