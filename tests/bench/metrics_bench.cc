// What Prometheus metrics cost, in one run:
// (a) training speed with every daemon's /metrics scraped every second versus no metrics
//     endpoint at all: the demo's cluster (1 coordinator, 3 servers, 8 shards x 2 replicas,
//     2 BSP workers training the 784-256-128-10 MLP, one OpenBLAS thread each), shorter;
//     alternating runs, --rounds of each, so that both modes see the same (noisy) machine. The
//     figure is the cluster's examples/s: the sum of both workers' final examples_per_sec
//     (training time only, from their --metrics_out files). Prints each round, its ratio and the
//     time its scrapes took per second (an upper bound on their cost to the daemons), then the
//     median ratio and that of the totals (target >= 0.98).
// (b) /metrics response time of a server leading 64 shards of --tables tables (1 server, R=1,
//     every table pushed and pulled so that every per-table and per-method series exists), and
//     of its coordinator: median, p99 and max over --gets sequential GETs from a client that asks
//     for keep-alive (as Prometheus does; the endpoint closes each connection anyway), and the
//     size of what they serve.
// Usage: metrics_bench [--rounds=8] [--epochs=2] [--gets=200] [--tables=4] [--part=ab]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "httplib.h"
#include "tests/bench/bench_cluster.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/free_port.h"
#include "tests/integration/metrics_file.h"

ABSL_FLAG(int, rounds, 8, "(a): rounds of one unscraped and one scraped training run.");
ABSL_FLAG(int, epochs, 2, "(a): epochs of each training run.");
ABSL_FLAG(std::string, dataset, "",
          "(a): the workers' --dataset; empty: fashion-mnist where installed, else "
          "synthetic-images (as deploy/run_demo.sh chooses).");
ABSL_FLAG(int, gets, 200, "(b): GETs of /metrics per endpoint.");
ABSL_FLAG(int, tables, 4, "(b): tables on the 64-shard server.");
ABSL_FLAG(std::string, part, "ab", "Which parts to run: a, b or ab.");

namespace ps::testing {
namespace {

constexpr char kProgram[] = "metrics_bench";
constexpr int kServers = 3;
constexpr int kWorkers = 2;

// GETs every target's /metrics once a second, asking for keep-alive and with TCP_NODELAY, as a
// Prometheus server with scrape_interval 1s does, until stopped. Owns its thread.
class Scraper {
 public:
  // `ports`: of endpoints on 127.0.0.1.
  explicit Scraper(const std::vector<int>& ports) {
    for (int port : ports) {
      clients_.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
      clients_.back()->set_keep_alive(true);
      // As Go's (Prometheus') client: without it, Nagle holds the request's last segment for the
      // server's delayed ACK, 40 ms a GET.
      clients_.back()->set_tcp_nodelay(true);
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~Scraper() { Stop(); }
  Scraper(const Scraper&) = delete;
  Scraper& operator=(const Scraper&) = delete;

  struct Figures {
    int scrapes = 0;
    // GETs that got no answer: a worker that finished its share has exited while the other
    // still trains, so a few at the end are expected.
    int failures = 0;
    double bytes = 0;
    // Spent in GETs (the endpoints' work, the transfer and this client's): an upper bound on
    // what serving the scrapes cost the daemons.
    absl::Duration busy;
    absl::Duration scraped_for;
  };
  // Stops scraping (idempotent) and returns what it did.
  Figures Stop() {
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (thread_.joinable()) thread_.join();
    return figures_;
  }

 private:
  void Run() {
    const absl::Time start = absl::Now();
    absl::Time next = start;
    while (!stop_.WaitForNotificationWithTimeout(next - absl::Now())) {
      for (const std::unique_ptr<httplib::Client>& client : clients_) {
        const absl::Time sent = absl::Now();
        httplib::Result answer = client->Get("/metrics");
        figures_.busy += absl::Now() - sent;
        ++figures_.scrapes;
        if (answer && answer->status == 200) {
          figures_.bytes += static_cast<double>(answer->body.size());
        } else {
          ++figures_.failures;
        }
      }
      next += absl::Seconds(1);
    }
    figures_.scraped_for = absl::Now() - start;
  }

  std::vector<std::unique_ptr<httplib::Client>> clients_;
  absl::Notification stop_;
  Figures figures_;  // Written by the thread only; read after it is joined.
  std::thread thread_;
};

std::string DefaultDataset() {
  return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0
             ? "fashion-mnist"
             : "synthetic-images";
}

struct TrainingRun {
  double examples_per_second = 0;  // Both workers together.
  Scraper::Figures scraping;
};

// One training run of the demo's cluster, scraped every second or without metrics endpoints.
TrainingRun Train(bool scraped, const std::string& dataset, int round) {
  const std::string dir = MakeTempDir(absl::StrCat(scraped ? "scraped" : "plain", round, "-"));
  LocalClusterOptions options;
  options.servers = kServers;
  options.workers = kWorkers;
  options.num_shards = 8;
  options.replication_factor = 2;
  // Training keeps both cores busy; a longer timeout keeps heartbeats from looking late.
  options.failure_timeout_ms = 5000;
  // deploy/run_demo.sh's worker flags, for --epochs.
  options.worker_args = {"--workers=2",
                         "--model=mlp",
                         "--hidden=256,128",
                         "--dataset=" + dataset,
                         "--device=cpu",
                         "--cpu_threads=1",
                         "--consistency=bsp",
                         absl::StrCat("--epochs=", absl::GetFlag(FLAGS_epochs)),
                         "--batch_size=64",
                         "--lr_decay=0.85",
                         "--seed=1",
                         "--log_every_steps=0",
                         "--metrics_out=" + dir + "/metrics-{rank}.jsonl"};
  std::vector<int> ports;
  if (scraped) {
    const auto port_flag = [&](const char* flag) {
      ports.push_back(PickFreePort());
      return std::vector<std::string>{absl::StrCat(flag, ports.back())};
    };
    options.coordinator_args = port_flag("--http_port=");
    for (int i = 0; i < kServers; ++i) {
      options.per_server_args.push_back(port_flag("--metrics_port="));
    }
    for (int i = 0; i < kWorkers; ++i) {
      options.per_worker_args.push_back(port_flag("--metrics_port="));
    }
  }
  std::unique_ptr<LocalCluster> cluster = StartClusterOrExit(options, kProgram);
  std::unique_ptr<Scraper> scraper;
  if (scraped) scraper = std::make_unique<Scraper>(ports);
  TrainingRun run;
  for (int i = 0; i < kWorkers; ++i) {
    if (cluster->worker(i).Wait(absl::Minutes(30)) != std::optional<int>(0)) {
      std::fprintf(stderr, "%s: worker %d failed:\n%s\n", kProgram, i, cluster->AllLogs().c_str());
      std::exit(1);
    }
  }
  if (scraper != nullptr) run.scraping = scraper->Stop();
  for (int rank = 0; rank < kWorkers; ++rank) {
    const std::string path = absl::StrCat(dir, "/metrics-", rank, ".jsonl");
    const std::optional<double> speed = LastValue(path, "final", "examples_per_sec");
    if (!speed.has_value()) {
      std::fprintf(stderr, "%s: no final examples_per_sec in %s\n", kProgram, path.c_str());
      std::exit(1);
    }
    run.examples_per_second += *speed;
  }
  return run;
}

void MeasureTrainingCost() {
  const std::string dataset =
      absl::GetFlag(FLAGS_dataset).empty() ? DefaultDataset() : absl::GetFlag(FLAGS_dataset);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  std::printf(
      "(a) metrics cost: MLP 784-256-128-10 on %s, %d epoch(s) per run, 3 servers (8 shards x 2), "
      "2 BSP workers, 1 OpenBLAS thread each; %d rounds, alternating order\n",
      dataset.c_str(), absl::GetFlag(FLAGS_epochs), rounds);
  std::printf(
      "  round  unscraped ex/s  scraped 1/s ex/s  ratio  scrapes (failed)  KB/scrape  GET ms/s\n");
  double plain_total = 0, scraped_total = 0;
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    // Alternate which goes first, so that a drift in the machine's load favours neither.
    TrainingRun plain, scraped;
    if (round % 2 == 0) {
      plain = Train(false, dataset, round);
      scraped = Train(true, dataset, round);
    } else {
      scraped = Train(true, dataset, round);
      plain = Train(false, dataset, round);
    }
    const double ratio = scraped.examples_per_second / plain.examples_per_second;
    ratios.push_back(ratio);
    plain_total += plain.examples_per_second;
    scraped_total += scraped.examples_per_second;
    const Scraper::Figures& scraping = scraped.scraping;
    std::printf(
        "  %5d  %14.0f  %16.0f  %5.3f  %9d (%d)  %9.1f  %8.2f\n", round + 1,
        plain.examples_per_second, scraped.examples_per_second, ratio, scraping.scrapes,
        scraping.failures, scraping.bytes / std::max(1, scraping.scrapes) / 1e3,
        absl::ToDoubleMilliseconds(scraping.busy) / absl::ToDoubleSeconds(scraping.scraped_for));
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  const size_t middle = ratios.size() / 2;
  const double median =
      ratios.size() % 2 == 1 ? ratios[middle] : (ratios[middle - 1] + ratios[middle]) / 2;
  std::printf(
      "  scraped / unscraped: median of the rounds %.3f (min %.3f, max %.3f), of the totals "
      "%.3f; target >= 0.98\n",
      median, ratios.front(), ratios.back(), scraped_total / plain_total);
}

// Times --gets sequential GETs of /metrics on 127.0.0.1:`port` by a client asking for keep-alive
// (as Prometheus does), and prints median, p99 and max.
void TimeScrapes(const std::string& name, int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);  // As Scraper's clients.
  std::vector<double> millis;
  size_t bytes = 0, lines = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_gets); ++i) {
    const absl::Time start = absl::Now();
    httplib::Result answer = client.Get("/metrics");
    millis.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!answer || answer->status != 200) {
      std::fprintf(stderr, "%s: GET /metrics of %s failed\n", kProgram, name.c_str());
      std::exit(1);
    }
    bytes = answer->body.size();
    lines = std::count(answer->body.begin(), answer->body.end(), '\n');
  }
  std::sort(millis.begin(), millis.end());
  const auto at = [&](double quantile) {
    return millis[std::min(millis.size() - 1, static_cast<size_t>(quantile * millis.size()))];
  };
  std::printf("  %-11s  %6.2f  %6.2f  %6.2f  %7.1f KB  %5zu lines\n", name.c_str(), at(0.5),
              at(0.99), millis.back(), bytes / 1e3, lines);
}

void MeasureScrapeTime() {
  const int tables = absl::GetFlag(FLAGS_tables);
  const int server_port = PickFreePort();
  const int coordinator_port = PickFreePort();
  LocalClusterOptions options;
  options.servers = 1;
  options.workers = 0;
  options.num_shards = 64;
  options.replication_factor = 1;
  options.coordinator_args = {absl::StrCat("--http_port=", coordinator_port)};
  options.per_server_args = {{absl::StrCat("--metrics_port=", server_port)}};
  std::unique_ptr<LocalCluster> cluster = StartClusterOrExit(options, kProgram);
  std::unique_ptr<PsClient> client = ConnectWorkerOrExit(*cluster, kProgram);
  // Every table touched by a push and a pull, so that each of its series exists.
  constexpr size_t kFloats = 1 << 16;
  std::vector<float> values(kFloats);
  for (int t = 0; t < tables; ++t) {
    absl::StatusOr<v1::TableInfo> table =
        client->CreateTable(ZeroAspDenseSpec(absl::StrCat("table", t), kFloats));
    if (!table.ok() || !client->Push(*table, values).ok() ||
        !client->Pull(*table, absl::MakeSpan(values)).ok()) {
      std::fprintf(stderr, "%s: cannot create and touch table %d\n", kProgram, t);
      std::exit(1);
    }
  }
  std::printf(
      "(b) /metrics response time, 1 server leading 64 shards of %d tables (R=1), %d "
      "sequential GETs from a client asking for keep-alive, as Prometheus does\n",
      tables, absl::GetFlag(FLAGS_gets));
  std::printf("  %-11s  med ms  p99 ms  max ms  exposition\n", "endpoint");
  TimeScrapes("server", server_port);
  TimeScrapes("coordinator", coordinator_port);
}

}  // namespace
}  // namespace ps::testing

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!ps::InitLogging("bench", "warn").ok()) return 2;
  const std::string part = absl::GetFlag(FLAGS_part);
  if (part.find('b') != std::string::npos) ps::testing::MeasureScrapeTime();
  if (part.find('a') != std::string::npos) ps::testing::MeasureTrainingCost();
  return 0;
}
