// Debian's prometheus package (2.x) for tests: promtool's lint of an exposition, and a throwaway
// Prometheus server that scrapes the daemons' /metrics endpoints every second and answers PromQL
// over its HTTP API, as an operator's dashboards and alerts would. The server listens on a free
// 127.0.0.1 port with its data under $TEST_TMPDIR; it is killed, reaped and its data removed when
// destroyed (its configuration and log stay, for a failed test's post-mortem). One thread only.
//
// Tests that need Prometheus call PS_SKIP_WITHOUT_PROMETHEUS() first: when it (or promtool) is
// not installed they skip with its message, unless PS_REQUIRE_PROMETHEUS=1, where they fail
// instead, so that CI cannot pass by skipping them.
#ifndef PS_TESTS_HARNESS_TEST_PROMETHEUS_H_
#define PS_TESTS_HARNESS_TEST_PROMETHEUS_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {

// nullopt when the prometheus and promtool binaries are installed; otherwise why not.
std::optional<std::string> PrometheusMissing();
// Whether PS_REQUIRE_PROMETHEUS=1: a missing Prometheus is a failure, not a skip.
bool PrometheusRequired();

// In a TEST body: skips (or fails, under PS_REQUIRE_PROMETHEUS=1) without Prometheus.
#define PS_SKIP_WITHOUT_PROMETHEUS()                                                      \
  do {                                                                                    \
    if (const std::optional<std::string> missing = ::ps::testing::PrometheusMissing()) {  \
      if (::ps::testing::PrometheusRequired()) {                                          \
        FAIL() << *missing << "; PS_REQUIRE_PROMETHEUS=1: the Prometheus tests must run"; \
      }                                                                                   \
      GTEST_SKIP() << *missing << "; skipping this Prometheus test";                      \
    }                                                                                     \
  } while (false)

// Runs `promtool check metrics` on an exposition (what a /metrics endpoint served). Returns
// promtool's complaints: empty when the exposition is valid and lint-clean (promtool prints
// nothing then). Errors: FailedPrecondition without promtool; Internal when it cannot be run.
absl::StatusOr<std::string> PromtoolComplaints(const std::string& exposition);

// What Prometheus scrapes: host:port endpoints serving /metrics, under a job name (the `job`
// label of their series).
struct ScrapeJob {
  std::string name;
  std::vector<std::string> targets;
};

// One series of an instant query's answer: its labels (__name__ included when the query keeps
// it) and its value.
struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class TestPrometheus {
 public:
  // Starts Prometheus scraping `jobs` every `scrape_interval` and waits until it is ready (its
  // /-/ready answers). Retries with another port if one was taken meanwhile.
  // Errors: FailedPrecondition when Prometheus is not installed; DeadlineExceeded (with its log)
  // when it is not ready within 30 s.
  static absl::StatusOr<std::unique_ptr<TestPrometheus>> Start(
      const std::vector<ScrapeJob>& jobs, absl::Duration scrape_interval = absl::Seconds(1));

  TestPrometheus(const TestPrometheus&) = delete;
  TestPrometheus& operator=(const TestPrometheus&) = delete;
  ~TestPrometheus();

  // 127.0.0.1:PORT of its web UI and HTTP API.
  const std::string& address() const { return address_; }

  // Evaluates `promql` now (GET /api/v1/query) and returns the series of its instant vector
  // (an empty vector when nothing matches). Errors: Unavailable when Prometheus does not answer;
  // Internal, with Prometheus' answer, for a bad query; InvalidArgument for an answer that is not
  // an instant vector (a scalar query: wrap it in vector()).
  absl::StatusOr<std::vector<PromSample>> Query(const std::string& promql) const;

  // Polls Query(promql) until `done` holds for its answer and returns that answer.
  // Errors: DeadlineExceeded after `timeout`, naming the last answer (or error) seen.
  absl::StatusOr<std::vector<PromSample>> WaitFor(
      const std::string& promql, const std::function<bool(const std::vector<PromSample>&)>& done,
      absl::Duration timeout) const;

  std::string ReadLog() const;

 private:
  TestPrometheus() = default;
  absl::Status WaitUntilReady(absl::Duration timeout);
  void Stop();

  std::string directory_;
  std::string address_;
  std::unique_ptr<DaemonProcess> process_;
};

// `samples` as text, one series a line, for failure messages.
std::string ToString(const std::vector<PromSample>& samples);

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_TEST_PROMETHEUS_H_
