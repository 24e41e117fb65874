#include "tools/psctl/metrics_scrape.h"

#include "gtest/gtest.h"

namespace ps::psctl {
namespace {

TEST(MetricsScrapeTest, BarePortTakesTheCoordinatorsHost) {
  EXPECT_EQ(*MetricsAddress("9090", "10.0.0.5:7070"), "10.0.0.5:9090");
  EXPECT_EQ(*MetricsAddress("9090", "[::1]:7070"), "[::1]:9090");
  EXPECT_EQ(*MetricsAddress("monitor:8080", "10.0.0.5:7070"), "monitor:8080");
  EXPECT_TRUE(NamesHost("monitor:8080"));
  EXPECT_FALSE(NamesHost("8080"));
}

TEST(MetricsScrapeTest, RefusesAMissingOrBadPort) {
  EXPECT_EQ(MetricsAddress("", "10.0.0.5:7070").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsAddress("0", "10.0.0.5:7070").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsAddress("host:http", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsAddress(":8080", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricsScrapeTest, FiltersWholeFamiliesByNamePrefix) {
  const std::string exposition =
      "# HELP ps_coordinator_map_epoch Epoch.\n"
      "# TYPE ps_coordinator_map_epoch gauge\n"
      "ps_coordinator_map_epoch 9\n"
      "# HELP ps_grpc_handled_total Calls.\n"
      "# TYPE ps_grpc_handled_total counter\n"
      "ps_grpc_handled_total{method=\"Heartbeat\",code=\"OK\"} 12\n"
      "# a comment of no family\n"
      "ps_coordinator_members{role=\"server\",state=\"alive\"} 3\n";
  EXPECT_EQ(FilterMetrics(exposition, "ps_coordinator_"),
            "# HELP ps_coordinator_map_epoch Epoch.\n"
            "# TYPE ps_coordinator_map_epoch gauge\n"
            "ps_coordinator_map_epoch 9\n"
            "ps_coordinator_members{role=\"server\",state=\"alive\"} 3\n");
  EXPECT_EQ(FilterMetrics(exposition, ""), exposition);
  EXPECT_EQ(FilterMetrics(exposition, "nothing_"), "");
}

TEST(MetricsScrapeTest, UnreachableEndpointIsUnavailableNamingIt) {
  // Port 1 on loopback refuses at once.
  const absl::StatusOr<std::string> metrics = FetchMetrics("127.0.0.1:1", absl::Seconds(2));
  ASSERT_EQ(metrics.status().code(), absl::StatusCode::kUnavailable) << metrics.status();
  EXPECT_NE(metrics.status().message().find("127.0.0.1:1"), absl::string_view::npos);
}

}  // namespace
}  // namespace ps::psctl
