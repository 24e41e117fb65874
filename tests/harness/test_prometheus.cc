#include "tests/harness/test_prometheus.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/harness/free_port.h"
#include "tests/harness/http_get.h"

namespace ps::testing {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
// Between two polls of a query: Prometheus' answers change once a scrape interval at most.
constexpr absl::Duration kPollInterval = absl::Milliseconds(200);

// The configuration: every job's targets scraped every `interval` (which is also the scrape
// timeout: a daemon that cannot answer within it counts as down, as it would in production).
std::string Configuration(const std::vector<ScrapeJob>& jobs, absl::Duration interval) {
  const std::string seconds = absl::StrCat(absl::ToInt64Milliseconds(interval), "ms");
  std::string yaml = absl::StrCat("global:\n  scrape_interval: ", seconds,
                                  "\n  scrape_timeout: ", seconds, "\nscrape_configs:\n");
  for (const ScrapeJob& job : jobs) {
    absl::StrAppend(&yaml, "  - job_name: '", job.name, "'\n    static_configs:\n",
                    "      - targets: ['", absl::StrJoin(job.targets, "', '"), "']\n");
  }
  return yaml;
}

// The samples of a /api/v1/query answer (JSON, read into a google.protobuf.Struct).
absl::StatusOr<std::vector<PromSample>> ParseVector(const std::string& json) {
  google::protobuf::Struct answer;
  if (const auto parsed = google::protobuf::util::JsonStringToMessage(json, &answer);
      !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON (", parsed.ToString(), "): ", json));
  }
  const auto& fields = answer.fields();
  const auto data = fields.find("data");
  if (data == fields.end() || !data->second.has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat("no data in ", json));
  }
  const auto& data_fields = data->second.struct_value().fields();
  const auto type = data_fields.find("resultType");
  const auto result = data_fields.find("result");
  if (type == data_fields.end() || type->second.string_value() != "vector" ||
      result == data_fields.end()) {
    return absl::InvalidArgumentError(absl::StrCat("not an instant vector: ", json));
  }
  std::vector<PromSample> samples;
  for (const google::protobuf::Value& series : result->second.list_value().values()) {
    const auto& series_fields = series.struct_value().fields();
    PromSample sample;
    if (const auto metric = series_fields.find("metric"); metric != series_fields.end()) {
      for (const auto& [name, value] : metric->second.struct_value().fields()) {
        sample.labels[name] = value.string_value();
      }
    }
    // "value": [unix time, "value as text"] (text, so that NaN and +Inf survive JSON).
    const auto value = series_fields.find("value");
    if (value == series_fields.end() || value->second.list_value().values_size() != 2 ||
        !absl::SimpleAtod(value->second.list_value().values(1).string_value(), &sample.value)) {
      return absl::InvalidArgumentError(absl::StrCat("a series without a value in ", json));
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace

std::optional<std::string> PrometheusMissing() {
  if (access(kPrometheus, X_OK) == 0 && access(kPromtool, X_OK) == 0) return std::nullopt;
  return absl::StrCat("Prometheus is not installed (no ", kPrometheus, " or ", kPromtool,
                      "): apt-get install prometheus, or run deploy/install_deps.sh");
}

bool PrometheusRequired() {
  const char* required = std::getenv("PS_REQUIRE_PROMETHEUS");
  return required != nullptr && std::string(required) == "1";
}

absl::StatusOr<std::string> PromtoolComplaints(const std::string& exposition) {
  if (access(kPromtool, X_OK) != 0) return absl::FailedPreconditionError(*PrometheusMissing());
  const std::string directory = MakeTempDir("promtool");
  if (directory.empty()) return absl::InternalError("cannot create a temp dir");
  const std::string input = directory + "/metrics.txt";
  std::ofstream(input, std::ios::binary) << exposition;
  // promtool reads the exposition on stdin; it prints problems (to stdout or stderr) and exits
  // non-zero on any, lint included. Whatever it prints is a complaint.
  const std::string command = absl::StrCat(kPromtool, " check metrics <", input, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run ", command));
  std::string out;
  char buffer[4096];
  while (size_t read = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, read);
  const int status = pclose(pipe);
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
  if (status != 0 && out.empty()) {
    out = absl::StrCat("promtool check metrics failed (wait status ", status, ") silently");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<TestPrometheus>> TestPrometheus::Start(
    const std::vector<ScrapeJob>& jobs, absl::Duration scrape_interval) {
  if (std::optional<std::string> missing = PrometheusMissing()) {
    return absl::FailedPreconditionError(*missing);
  }
  std::unique_ptr<TestPrometheus> prometheus(new TestPrometheus());
  prometheus->directory_ = MakeTempDir("prometheus");
  if (prometheus->directory_.empty()) return absl::InternalError("cannot create a temp dir");
  const std::string config = prometheus->directory_ + "/prometheus.yml";
  std::ofstream(config) << Configuration(jobs, scrape_interval);
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int port = PickFreePort();
    if (port == 0) continue;
    prometheus->address_ = absl::StrCat("127.0.0.1:", port);
    std::error_code ignored;
    std::filesystem::remove_all(prometheus->directory_ + "/data", ignored);
    absl::StatusOr<std::unique_ptr<DaemonProcess>> process = DaemonProcess::Start(
        kPrometheus,
        {"--config.file=" + config, "--storage.tsdb.path=" + prometheus->directory_ + "/data",
         "--web.listen-address=" + prometheus->address_},
        absl::StrCat(prometheus->directory_, "/prometheus.", attempt, ".log"));
    if (!process.ok()) return process.status();
    prometheus->process_ = *std::move(process);
    last = prometheus->WaitUntilReady(kStartTimeout);
    if (last.ok()) return prometheus;
    prometheus->Stop();
  }
  return last;
}

TestPrometheus::~TestPrometheus() {
  Stop();
  std::error_code ignored;
  if (!directory_.empty()) std::filesystem::remove_all(directory_ + "/data", ignored);
}

void TestPrometheus::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(10));
  process_.reset();
}

absl::Status TestPrometheus::WaitUntilReady(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < give_up) {
    if (std::optional<int> exited = process_->Wait(absl::ZeroDuration())) {
      return absl::UnavailableError(
          absl::StrCat("prometheus exited with ", *exited, ":\n", ReadLog()));
    }
    absl::StatusOr<std::string> ready = HttpGet(address_, "/-/ready", {}, absl::Seconds(1));
    if (ready.ok()) return absl::OkStatus();
    last = ready.status();
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat("prometheus was not ready within ",
                                                  absl::FormatDuration(timeout), " (",
                                                  last.ToString(), "):\n", ReadLog()));
}

absl::StatusOr<std::vector<PromSample>> TestPrometheus::Query(const std::string& promql) const {
  absl::StatusOr<std::string> answer = HttpGet(address_, "/api/v1/query", {{"query", promql}});
  if (!answer.ok()) return answer.status();
  return ParseVector(*answer);
}

absl::StatusOr<std::vector<PromSample>> TestPrometheus::WaitFor(
    const std::string& promql, const std::function<bool(const std::vector<PromSample>&)>& done,
    absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  std::string last = "no answer";
  for (;;) {
    absl::StatusOr<std::vector<PromSample>> samples = Query(promql);
    if (samples.ok() && done(*samples)) return samples;
    last = samples.ok() ? ToString(*samples) : samples.status().ToString();
    if (absl::Now() >= give_up) break;
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat("'", promql, "' did not meet the condition in ",
                                                  absl::FormatDuration(timeout), "; last answer:\n",
                                                  last));
}

std::string TestPrometheus::ReadLog() const {
  return process_ == nullptr ? std::string("(prometheus not running)") : process_->ReadLog();
}

std::string ToString(const std::vector<PromSample>& samples) {
  if (samples.empty()) return "(no series)\n";
  std::string text;
  for (const PromSample& sample : samples) {
    std::vector<std::string> labels;
    for (const auto& [name, value] : sample.labels) labels.push_back(name + "=\"" + value + "\"");
    absl::StrAppend(&text, "{", absl::StrJoin(labels, ","), "} ", sample.value, "\n");
  }
  return text;
}

}  // namespace ps::testing
