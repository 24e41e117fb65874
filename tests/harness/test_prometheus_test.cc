// The harness's Prometheus against an in-process /metrics endpoint: a real Prometheus scrapes
// it, queries come back as labelled samples (counter values exact), and a dead target reads
// `up` 0; promtool passes a clean exposition and names what is wrong with a bad one.
#include "tests/harness/test_prometheus.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/metrics/http_endpoint.h"
#include "common/metrics/metric_registry.h"
#include "gtest/gtest.h"
#include "tests/harness/free_port.h"

namespace ps::testing {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(20);

TEST(TestPrometheusTest, ScrapesATargetAndAnswersQueries) {
  PS_SKIP_WITHOUT_PROMETHEUS();
  MetricRegistry registry;
  registry.AddCounter("test_events_total", "Events.", {"kind"}).With({"a"}).Add(3);
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start("127.0.0.1", 0, {{"/metrics", MetricsHandler(registry)}});
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const std::string target = absl::StrCat("127.0.0.1:", (*endpoint)->port());
  // A second target where nothing listens: scraped and found down.
  const std::string nobody = absl::StrCat("127.0.0.1:", PickFreePort());
  absl::StatusOr<std::unique_ptr<TestPrometheus>> prometheus =
      TestPrometheus::Start({{"live", {target}}, {"gone", {nobody}}});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  absl::StatusOr<std::vector<PromSample>> events =
      (*prometheus)
          ->WaitFor(
              "test_events_total", [](const auto& samples) { return !samples.empty(); }, kDeadline);
  ASSERT_TRUE(events.ok()) << events.status() << "\n" << (*prometheus)->ReadLog();
  ASSERT_EQ(events->size(), 1u) << ToString(*events);
  EXPECT_EQ((*events)[0].value, 3);
  EXPECT_EQ((*events)[0].labels.at("kind"), "a");
  EXPECT_EQ((*events)[0].labels.at("job"), "live");
  EXPECT_EQ((*events)[0].labels.at("instance"), target);

  absl::StatusOr<std::vector<PromSample>> down =
      (*prometheus)
          ->WaitFor(
              "up{job=\"gone\"}", [](const auto& samples) { return !samples.empty(); }, kDeadline);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ((*down)[0].value, 0);

  EXPECT_EQ((*prometheus)->Query("sum(").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ((*prometheus)->Query("up[1m]").status().code(), absl::StatusCode::kInvalidArgument)
      << "a range vector is not an instant vector";
}

TEST(TestPrometheusTest, PromtoolPassesCleanExpositionsAndNamesProblems) {
  PS_SKIP_WITHOUT_PROMETHEUS();
  MetricRegistry registry;
  registry.AddCounter("test_events_total", "Events.").With({}).Add(1);
  absl::StatusOr<std::string> clean = PromtoolComplaints(registry.Render());
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(*clean, "");
  // A counter without _total: what the registry refuses, and promtool's lint catches.
  absl::StatusOr<std::string> bad =
      PromtoolComplaints("# HELP test_events Events.\n# TYPE test_events counter\ntest_events 1\n");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_NE(bad->find("_total"), std::string::npos) << *bad;
}

}  // namespace
}  // namespace ps::testing
