// The coordinator's status page in a real browser: a localhost cluster trains, headless Chromium
// opens http://127.0.0.1:PORT/ on the coordinator (--http_port), and the test reads what the
// page's script rendered: every member, the shard map, the tables, each live worker's progress
// and a training curve of at least two points. Then the coordinator is killed and the open page
// must say so while it keeps showing the last answer. Prints how long the page took to show the
// cluster (a figure for the README; timing is never asserted).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/free_port.h"
#include "tests/harness/headless_chromium.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/small_training.h"

namespace ps::testing {
namespace {

// Far longer than the test lasts (about 15 s per 100 epochs on 2 cores): the workers are still
// training when the browser looks, even on a slow machine, and the cluster's teardown ends the
// job.
const std::vector<std::string> kTraining =
    SmallTrainingArgs(/*epochs=*/1000, /*examples=*/2000, /*hidden=*/32, {"--log_every_steps=5"});

// The coordinator's status once some worker's training curve has at least two points.
absl::StatusOr<v1::ClusterStatus> WaitForCurve(LocalCluster& cluster, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::GetClusterStatusRequest request;
  request.set_with_curves(true);
  while (true) {
    grpc::ClientContext context;
    v1::ClusterStatus status;
    if (cluster.coordinator().GetClusterStatus(&context, request, &status).ok()) {
      for (const v1::WorkerCurve& curve : status.curves()) {
        if (curve.points_size() >= 2) return status;
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no curve of two points after ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      status.ShortDebugString()));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

std::string Html(HeadlessChromium& browser) {
  absl::StatusOr<google::protobuf::Value> html =
      browser.Evaluate("document.documentElement.outerHTML");
  EXPECT_TRUE(html.ok()) << html.status();
  return html.ok() ? html->string_value() : "";
}

double Number(HeadlessChromium& browser, const std::string& expression) {
  absl::StatusOr<google::protobuf::Value> value = browser.Evaluate(expression);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? value->number_value() : -1;
}

// Every member of `status` has its row, servers with their addresses.
void ExpectMembers(const std::string& html, const v1::ClusterStatus& status) {
  for (const v1::ServerInfo& server : status.map().servers()) {
    EXPECT_NE(html.find(absl::StrCat("id=\"member-server-", server.server_id(), "\"")),
              std::string::npos)
        << "server " << server.server_id();
    EXPECT_NE(html.find(server.address()), std::string::npos) << server.address();
  }
  for (const v1::WorkerInfo& worker : status.map().workers()) {
    EXPECT_NE(html.find(absl::StrCat("id=\"member-worker-", worker.worker_id(), "\"")),
              std::string::npos)
        << "worker " << worker.worker_id();
  }
}

// Saves the page as the test's output (bazel-testlogs/.../test.outputs/status_page.png).
void SaveScreenshot(HeadlessChromium& browser) {
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (outputs == nullptr) return;
  absl::StatusOr<std::string> png = browser.Screenshot();
  ASSERT_TRUE(png.ok()) << png.status();
  std::ofstream(absl::StrCat(outputs, "/status_page.png"), std::ios::binary) << *png;
}

// Waits until the page has rendered its first answer (it then sets data-loaded-ms) and prints
// when that was, and where the time went.
void PrintLoadTime(HeadlessChromium& browser, const std::string& load) {
  absl::StatusOr<google::protobuf::Value> loaded =
      browser.WaitFor("document.body && document.body.dataset.loadedMs", absl::Seconds(30));
  ASSERT_TRUE(loaded.ok()) << loaded.status() << "\n" << browser.ReadLog();
  const double html_ms =
      Number(browser, "performance.getEntriesByType('navigation')[0].responseEnd");
  const double api_ms =
      Number(browser,
             "performance.getEntriesByType('resource').find((e) => e.name.includes('/api/status'))"
             ".responseEnd");
  std::printf(
      "status page, %s: showed the cluster %s ms after navigation started (page received at "
      "%.0f ms, first /api/status answered at %.0f ms)\n",
      load.c_str(), loaded->string_value().c_str(), html_ms, api_ms);
}

TEST(StatusPageTest, BrowserShowsTheTrainingClusterThenThatItsCoordinatorIsGone) {
  PS_SKIP_WITHOUT_CHROMIUM();
  const int http_port = PickFreePort();
  ASSERT_NE(http_port, 0);
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 8;
  // Training keeps both cores busy; a longer timeout keeps heartbeats from looking late.
  options.failure_timeout_ms = 5000;
  options.coordinator_args = {absl::StrCat("--http_port=", http_port)};
  options.worker_args = kTraining;
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  absl::StatusOr<v1::ClusterStatus> status = WaitForCurve(cluster, absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status() << "\n" << cluster.AllLogs();

  absl::StatusOr<std::unique_ptr<HeadlessChromium>> launched = HeadlessChromium::Start();
  ASSERT_TRUE(launched.ok()) << launched.status();
  HeadlessChromium& browser = **launched;
  // Twice: into a browser just started (as a user opening the page), then into a second tab.
  const std::string url = absl::StrCat("http://127.0.0.1:", http_port, "/");
  for (const char* load : {"first load", "second load"}) {
    ASSERT_TRUE(browser.Open(url).ok()) << browser.ReadLog();
    ASSERT_NO_FATAL_FAILURE(PrintLoadTime(browser, load));
  }

  const std::string html = Html(browser);
  ExpectMembers(html, *status);
  for (const v1::MemberHealth& member : status->members()) {
    if (!member.has_progress()) continue;
    EXPECT_NE(html.find(absl::StrCat("id=\"progress-worker-", member.member().id(), "\"")),
              std::string::npos)
        << "progress of worker " << member.member().id();
  }
  for (const v1::TableInfo& table : status->map().tables()) {
    EXPECT_NE(html.find(absl::StrCat("id=\"table-", table.table_id(), "\"")), std::string::npos)
        << table.spec().name();
  }
  EXPECT_EQ(Number(browser, "document.querySelectorAll('#shard-grid .shard').length"),
            status->map().num_shards());
  // The coordinator already had a curve of two points before the page asked.
  EXPECT_GE(Number(browser,
                   "Math.max(0, ...Array.from(document.querySelectorAll('#loss-chart "
                   "polyline.curve'), (line) => Number(line.dataset.points)))"),
            2);
  SaveScreenshot(browser);

  // The coordinator dies: the open page says since when, and keeps the last answer on screen.
  cluster.coordinator_process().Signal(SIGKILL);
  absl::StatusOr<google::protobuf::Value> banner = browser.WaitFor(
      "!document.getElementById('banner').hidden && document.getElementById('banner').textContent",
      absl::Seconds(20));
  ASSERT_TRUE(banner.ok()) << banner.status();
  EXPECT_TRUE(std::regex_search(banner->string_value(),
                                std::regex("^coordinator unreachable since \\d\\d:\\d\\d:\\d\\d")))
      << banner->string_value();
  ExpectMembers(Html(browser), *status);
}

}  // namespace
}  // namespace ps::testing
