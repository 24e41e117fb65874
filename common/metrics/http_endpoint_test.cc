#include "common/metrics/http_endpoint.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace ps {
namespace {

TEST(HttpEndpointTest, ServesItsHandlersAndRefusesOtherPaths) {
  MetricRegistry registry;
  registry.AddCounter("served_total", "h").With({}).Add(7);
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint = HttpEndpoint::Start(
      "127.0.0.1", 0,
      {{"/metrics", MetricsHandler(registry)}, {"/echo", [](const HttpRequest& request) {
          HttpResponse response;
          response.body = request.path + " " + request.params.at("q");
          return response;
        }}});
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_GT((*endpoint)->port(), 0);
  httplib::Client client("127.0.0.1", (*endpoint)->port());

  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), kPrometheusTextType);
  EXPECT_EQ(metrics->body, "# HELP served_total h\n# TYPE served_total counter\nserved_total 7\n");

  httplib::Result echo = client.Get("/echo?q=a%20b");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "/echo a b");

  httplib::Result missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  httplib::Result posted = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(posted);
  EXPECT_NE(posted->status, 200);
}

TEST(HttpEndpointTest, APortInUseIsAClearError) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> first = HttpEndpoint::Start("127.0.0.1", 0, {});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> second =
      HttpEndpoint::Start("127.0.0.1", (*first)->port(), {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(std::to_string((*first)->port())), std::string::npos)
      << second.status();
}

TEST(HttpEndpointTest, StoppingRightAfterStartingDoesNotHang) {
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
        HttpEndpoint::Start("127.0.0.1", 0, {});
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  }
}

// A client that keeps its connection alive (as Prometheus and browsers do) gets one answer per
// connection and reconnects; back-to-back requests are not held up either way (with a kept-alive
// connection and Nagle on, each answer after the first waited 40 ms for a delayed ACK). The
// median of 20 is far from that: about 0.2 ms.
TEST(HttpEndpointTest, EveryAnswerClosesItsConnectionAndBackToBackRequestsAreNotDelayed) {
  MetricRegistry registry;
  registry.AddCounter("served_total", "h").With({}).Add(7);
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start("127.0.0.1", 0, {{"/metrics", MetricsHandler(registry)}});
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  httplib::Client client("127.0.0.1", (*endpoint)->port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::vector<absl::Duration> times;
  for (int i = 0; i < 20; ++i) {
    const absl::Time start = absl::Now();
    httplib::Result metrics = client.Get("/metrics");
    times.push_back(absl::Now() - start);
    ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
    EXPECT_EQ(metrics->status, 200);
    EXPECT_EQ(metrics->get_header_value("Connection"), "close");
  }
  std::sort(times.begin(), times.end());
  EXPECT_LT(times[times.size() / 2], absl::Milliseconds(20));
}

}  // namespace
}  // namespace ps
