// How the parameter server's costs grow, as curves measured on real localhost processes (a
// coordinator and ps_server processes started by tests/harness/local_cluster.h; this process and
// bsp_step_worker processes are the workers). Not part of the test suite's pass/fail.
//   dense_size:    dense push and pull GB/s vs message size (64 KB ... 64 MB, 1 server, 4 shards),
//                  against a streaming TCP round trip of the same bytes in the same run.
//   dense_servers: push, pull and push+pull GB/s of a 16 MB table vs servers (1, 2, 4; R = 1,
//                  8 shards).
//   bsp_workers:   BSP step time (pull, constant gradient, push, advance) of a 1M-float table vs
//                  worker processes (1, 2, 4, 8).
//   sparse_keys:   PushSparse / PullSparse keys/s and p50/p99 latency vs keys per request
//                  (10 ... 100000, dim 16).
//   sparse_memory: server RSS per sparse row (dim 16, Adagrad) vs rows (10^5 ... 10^7) against
//                  the raw bytes of the values and the optimizer state.
//   parked_pulls:  p50/p99 latency of ordinary pulls and pushes with 0 and 1000 BSP pulls parked
//                  on the same server, and how long answering the 1000 takes once released.
// Every curve is printed as a table on stdout and written to --out as CSV and JSON
// (tests/bench/curve_report.h); run_scaling_bench.sh plots them. Progress goes to stderr.
// Usage: scaling_bench --out=DIR [--quick] [--curves=dense_size,...] [--rounds=5]
//        [--max_rows=10000000]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "proto/parameter_server.pb.h"
#include "tests/bench/curve_report.h"
#include "tests/bench/tcp_sink.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(std::string, out, "", "Directory for the CSV and JSON files (created if needed).");
ABSL_FLAG(bool, quick, false,
          "A smoke run: fewer sizes, rounds and steps; --rounds, --max_rows still override.");
ABSL_FLAG(std::string, curves,
          "dense_size,dense_servers,bsp_workers,sparse_keys,sparse_memory,"
          "parked_pulls",
          "Which curves to measure, comma-separated.");
ABSL_FLAG(int, rounds, 0,
          "Rounds per dense and parked_pulls point (the median is reported); 0: 5, quick 2.");
ABSL_FLAG(int64_t, max_rows, 0,
          "Largest sparse_memory point; 0: 10^7 (about 2 GB of server memory), quick 10^6.");

namespace ps::bench {
namespace {

using ::ps::testing::DaemonProcess;
using ::ps::testing::LocalCluster;
using ::ps::testing::LocalClusterOptions;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint32_t kSparseDim = 16;

// What to measure and how long; set from the flags in main().
struct ScalingOptions {
  std::vector<std::string> curves;
  std::string out;
  bool quick = false;
  int rounds = 5;
  // dense_size: message sizes, and the bytes each round moves per size and direction (at least
  // kMinIterations messages).
  std::vector<uint64_t> dense_sizes;
  uint64_t bytes_per_round = 0;
  // dense_servers: push+pull steps per round.
  int server_steps = 0;
  std::vector<int> server_counts;
  // bsp_workers.
  std::vector<int> worker_counts;
  uint64_t bsp_table_size = 0;
  int bsp_steps = 0;
  // sparse_keys: each point runs until both this long and this many requests have passed.
  std::vector<size_t> keys_per_request;
  absl::Duration sparse_time;
  int sparse_min_requests = 0;
  // sparse_memory.
  int64_t max_rows = 0;
  // parked_pulls.
  int parked_pulls = 0;
  int probe_requests = 0;
};

constexpr int kMinIterations = 3;

// A benchmark step that cannot go on ends the program: there is nothing to measure after it.
void Check(const absl::Status& status, const std::string& what) {
  if (status.ok()) return;
  std::fprintf(stderr, "scaling_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "scaling_bench: %s\n", line.c_str());
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The nearest-rank percentile, p in [0, 1]; REQUIRES: `sorted` is sorted and not empty.
double Percentile(const std::vector<double>& sorted, double p) {
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

double Gbps(uint64_t bytes, absl::Duration elapsed) {
  return static_cast<double>(bytes) / absl::ToDoubleSeconds(elapsed) / 1e9;
}

std::unique_ptr<LocalCluster> StartCluster(int servers, uint32_t shards) {
  LocalClusterOptions options;
  options.servers = servers;
  options.workers = 0;  // This process (or bsp_step_worker) is the worker.
  options.num_shards = shards;
  options.replication_factor = 1;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  Check(cluster.status(), "starting the cluster");
  return *std::move(cluster);
}

std::unique_ptr<PsClient> Connect(LocalCluster& cluster, bool observer) {
  PsClientOptions options;
  options.coordinator_address = cluster.coordinator_address();
  options.observer = observer;
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  Check(client.status(), "connecting to the coordinator");
  return *std::move(client);
}

v1::TableSpec NewTableSpec(const std::string& name, v1::TableKind kind, uint64_t size,
                           v1::ConsistencySpec::Model model) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(kind);
  if (kind == v1::TABLE_KIND_DENSE) {
    spec.set_dense_size(size);
  } else {
    spec.set_sparse_dim(static_cast<uint32_t>(size));
  }
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1e-6f);
  spec.mutable_consistency()->set_model(model);
  return spec;
}

v1::TableInfo CreateTable(PsClient& client, const v1::TableSpec& spec) {
  absl::StatusOr<v1::TableInfo> table = client.CreateTable(spec);
  Check(table.status(), "creating table " + spec.name());
  return *table;
}

// --- dense_size --------------------------------------------------------------------------------

Curve DenseVsSize(const ScalingOptions& options) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  std::unique_ptr<PsClient> client = Connect(*cluster, /*observer=*/false);
  TcpSink tcp;
  Check(tcp.Start(), "starting the TCP reference");
  Curve curve{
      "dense_size",
      absl::StrCat("Dense f32 push / pull vs message size: 1 server, 4 shards, loopback; "
                   "GB/s, median of ",
                   options.rounds, " rounds; TCP = a streaming TCP round trip of the same bytes"),
      {"size_KiB", "tcp_GBps", "push_GBps", "pull_GBps", "push_over_tcp", "pull_over_tcp"},
      {}};
  for (uint64_t bytes : options.dense_sizes) {
    const v1::TableInfo table =
        CreateTable(*client, NewTableSpec(absl::StrCat("dense_", bytes), v1::TABLE_KIND_DENSE,
                                          bytes / sizeof(float), v1::ConsistencySpec::MODEL_ASP));
    std::vector<float> gradient(bytes / sizeof(float), 0.5f);
    std::vector<float> values(gradient.size());
    const std::vector<char> raw(bytes, 1);
    const int iterations =
        std::max<int>(kMinIterations, static_cast<int>(options.bytes_per_round / bytes));
    // Warm-up: connections, the server's buffers, first-touch page faults.
    Check(client->Push(table, gradient), "push");
    Check(client->Pull(table, absl::MakeSpan(values)), "pull");
    if (!tcp.RoundTrip(raw.data(), bytes)) Check(absl::InternalError("broken"), "TCP");
    std::vector<double> tcp_gbps, push_gbps, pull_gbps;
    // Rounds interleave the three so that a noisy moment of the shared machine hits all alike.
    for (int round = 0; round < options.rounds; ++round) {
      absl::Time start = absl::Now();
      for (int i = 0; i < iterations; ++i) {
        if (!tcp.RoundTrip(raw.data(), bytes)) Check(absl::InternalError("broken"), "TCP");
      }
      tcp_gbps.push_back(Gbps(bytes * iterations, absl::Now() - start));
      start = absl::Now();
      for (int i = 0; i < iterations; ++i) Check(client->Push(table, gradient), "push");
      push_gbps.push_back(Gbps(bytes * iterations, absl::Now() - start));
      start = absl::Now();
      for (int i = 0; i < iterations; ++i) {
        Check(client->Pull(table, absl::MakeSpan(values)), "pull");
      }
      pull_gbps.push_back(Gbps(bytes * iterations, absl::Now() - start));
    }
    const double tcp_median = Median(tcp_gbps);
    const double push = Median(push_gbps);
    const double pull = Median(pull_gbps);
    curve.rows.push_back({static_cast<double>(bytes / kKiB), tcp_median, push, pull,
                          push / tcp_median, pull / tcp_median});
    Progress(absl::StrCat("dense_size: ", bytes / kKiB, " KiB done"));
  }
  return curve;
}

// --- dense_servers -----------------------------------------------------------------------------

Curve DenseVsServers(const ScalingOptions& options) {
  constexpr uint64_t kBytes = 16 * kMiB;
  constexpr uint32_t kShards = 8;
  Curve curve{"dense_servers",
              absl::StrCat("Dense f32 16 MiB table vs servers: R = 1, 8 shards, one worker "
                           "stepping push then pull; GB/s, median of ",
                           options.rounds, " rounds of ", options.server_steps, " steps"),
              {"servers", "push_GBps", "pull_GBps", "push_pull_GBps"},
              {}};
  for (int servers : options.server_counts) {
    std::unique_ptr<LocalCluster> cluster = StartCluster(servers, kShards);
    std::unique_ptr<PsClient> client = Connect(*cluster, /*observer=*/false);
    const v1::TableInfo table =
        CreateTable(*client, NewTableSpec("dense_16mb", v1::TABLE_KIND_DENSE,
                                          kBytes / sizeof(float), v1::ConsistencySpec::MODEL_ASP));
    std::vector<float> gradient(kBytes / sizeof(float), 0.5f);
    std::vector<float> values(gradient.size());
    Check(client->Push(table, gradient), "push");
    Check(client->Pull(table, absl::MakeSpan(values)), "pull");
    std::vector<double> push_gbps, pull_gbps, step_gbps;
    for (int round = 0; round < options.rounds; ++round) {
      absl::Duration push_time, pull_time;
      for (int step = 0; step < options.server_steps; ++step) {
        const absl::Time start = absl::Now();
        Check(client->Push(table, gradient), "push");
        const absl::Time pushed = absl::Now();
        Check(client->Pull(table, absl::MakeSpan(values)), "pull");
        push_time += pushed - start;
        pull_time += absl::Now() - pushed;
      }
      const uint64_t moved = kBytes * options.server_steps;
      push_gbps.push_back(Gbps(moved, push_time));
      pull_gbps.push_back(Gbps(moved, pull_time));
      step_gbps.push_back(Gbps(2 * moved, push_time + pull_time));
    }
    curve.rows.push_back(
        {static_cast<double>(servers), Median(push_gbps), Median(pull_gbps), Median(step_gbps)});
    Progress(absl::StrCat("dense_servers: ", servers, " server(s) done"));
  }
  return curve;
}

// --- bsp_workers -------------------------------------------------------------------------------

// Worker processes, not threads of this process: each bsp_step_worker registers as its own
// worker with its own connections (see bsp_step_worker.cc for why not ps_worker).
Curve BspVsWorkers(const ScalingOptions& options) {
  constexpr int kWarmupSteps = 2;
  Curve curve{"bsp_workers",
              absl::StrCat("BSP step time (pull, constant gradient, push, advance clock) of a ",
                           options.bsp_table_size, "-float dense table vs worker processes: ",
                           "1 server, 4 shards; ms, mean of ", options.bsp_steps, " steps after ",
                           kWarmupSteps, " warm-up steps"),
              {"workers", "mean_step_ms", "slowest_worker_ms", "steps_per_s"},
              {}};
  for (int workers : options.worker_counts) {
    std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
    // An observer creates the table: a registered worker that never pushes would hold every
    // BSP clock back.
    std::unique_ptr<PsClient> observer = Connect(*cluster, /*observer=*/true);
    const v1::TableInfo table =
        CreateTable(*observer, NewTableSpec("bsp", v1::TABLE_KIND_DENSE, options.bsp_table_size,
                                            v1::ConsistencySpec::MODEL_BSP));
    const std::string directory = testing::MakeTempDir("bsp_workers");
    if (directory.empty()) Check(absl::InternalError("mkdtemp failed"), "a temp dir");
    std::vector<std::unique_ptr<DaemonProcess>> processes;
    for (int i = 0; i < workers; ++i) {
      absl::StatusOr<std::unique_ptr<DaemonProcess>> process = DaemonProcess::Start(
          testing::RunfilePath("tests/bench/bsp_step_worker"),
          {"--coordinator=" + cluster->coordinator_address(), "--table=bsp",
           absl::StrCat("--workers=", workers), absl::StrCat("--steps=", options.bsp_steps),
           absl::StrCat("--warmup_steps=", kWarmupSteps),
           absl::StrCat("--result_file=", directory, "/worker-", i, ".ms")},
          absl::StrCat(directory, "/worker-", i, ".log"));
      Check(process.status(), "starting bsp_step_worker");
      processes.push_back(*std::move(process));
    }
    std::vector<double> step_ms;
    for (int i = 0; i < workers; ++i) {
      const std::optional<int> exit_code = processes[i]->Wait(absl::Minutes(5));
      if (exit_code != 0) {
        Check(absl::InternalError(absl::StrCat("exit ", exit_code.value_or(-1), "; log:\n",
                                               processes[i]->ReadLog())),
              absl::StrCat("bsp_step_worker ", i, " of ", workers));
      }
      std::ifstream in(absl::StrCat(directory, "/worker-", i, ".ms"));
      double ms = 0;
      if (!(in >> ms)) Check(absl::InternalError("no result"), "bsp_step_worker");
      step_ms.push_back(ms);
    }
    double sum = 0;
    for (double ms : step_ms) sum += ms;
    const double mean = sum / workers;
    curve.rows.push_back({static_cast<double>(workers), mean,
                          *std::max_element(step_ms.begin(), step_ms.end()), 1000 / mean});
    Progress(absl::StrCat("bsp_workers: ", workers, " worker(s) done"));
  }
  return curve;
}

// --- sparse_keys -------------------------------------------------------------------------------

struct SparseFigures {
  double keys_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  int requests = 0;
};

// Requests of `count` random keys (from 2^20 distinct ones, so the rows stop growing) until
// both the time and the request minimum have passed; only the calls are timed.
SparseFigures MeasureSparse(const ScalingOptions& options, PsClient& client,
                            const v1::TableInfo& table, size_t count, bool push) {
  constexpr uint64_t kUniverse = uint64_t{1} << 20;
  std::mt19937_64 random(count);
  std::vector<uint64_t> keys(count);
  std::vector<float> rows(count * kSparseDim, 0.01f);
  std::vector<double> latencies_us;
  absl::Duration busy;
  const absl::Time deadline = absl::Now() + options.sparse_time;
  while (absl::Now() < deadline ||
         static_cast<int>(latencies_us.size()) < options.sparse_min_requests) {
    for (uint64_t& key : keys) key = random() % kUniverse;
    const absl::Time start = absl::Now();
    Check(push ? client.PushSparse(table, keys, rows)
               : client.PullSparse(table, keys, absl::MakeSpan(rows)),
          push ? "PushSparse" : "PullSparse");
    const absl::Duration latency = absl::Now() - start;
    busy += latency;
    latencies_us.push_back(absl::ToDoubleMicroseconds(latency));
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  SparseFigures figures;
  figures.requests = static_cast<int>(latencies_us.size());
  figures.keys_per_second = count * latencies_us.size() / absl::ToDoubleSeconds(busy);
  figures.p50_us = Percentile(latencies_us, 0.50);
  figures.p99_us = Percentile(latencies_us, 0.99);
  return figures;
}

Curve SparseVsKeys(const ScalingOptions& options) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  std::unique_ptr<PsClient> client = Connect(*cluster, /*observer=*/false);
  const v1::TableInfo table = CreateTable(
      *client,
      NewTableSpec("sparse", v1::TABLE_KIND_SPARSE, kSparseDim, v1::ConsistencySpec::MODEL_ASP));
  Curve curve{"sparse_keys",
              absl::StrCat("Sparse dim ", kSparseDim,
                           " PushSparse / PullSparse vs keys per request: 1 server, 4 shards, "
                           "random keys of 2^20; keys/s of the time in calls, latency in us; at "
                           "least ",
                           absl::FormatDuration(options.sparse_time), " and ",
                           options.sparse_min_requests, " requests per point"),
              {"keys_per_request", "push_keys_per_s", "push_p50_us", "push_p99_us",
               "pull_keys_per_s", "pull_p50_us", "pull_p99_us", "push_requests", "pull_requests"},
              {}};
  for (size_t count : options.keys_per_request) {
    const SparseFigures push = MeasureSparse(options, *client, table, count, /*push=*/true);
    const SparseFigures pull = MeasureSparse(options, *client, table, count, /*push=*/false);
    curve.rows.push_back({static_cast<double>(count), push.keys_per_second, push.p50_us,
                          push.p99_us, pull.keys_per_second, pull.p50_us, pull.p99_us,
                          static_cast<double>(push.requests), static_cast<double>(pull.requests)});
    Progress(absl::StrCat("sparse_keys: ", count, " keys done"));
  }
  return curve;
}

// --- sparse_memory -----------------------------------------------------------------------------

// Resident memory of process `pid` in bytes (VmRSS of /proc/PID/status).
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    uint64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(
            absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripPrefix(line, "VmRSS:"), "kB")),
            &kib)) {
      return kib * 1024;
    }
  }
  Check(absl::InternalError(absl::StrCat("no VmRSS for pid ", pid)), "reading /proc");
  return 0;
}

// Pushes one gradient row for each key in [begin, end), creating those rows.
void CreateRows(PsClient& client, const v1::TableInfo& table, uint64_t begin, uint64_t end) {
  constexpr uint64_t kBatch = 50000;
  std::vector<uint64_t> keys;
  std::vector<float> rows(kBatch * kSparseDim, 0.01f);
  for (uint64_t first = begin; first < end; first += kBatch) {
    keys.clear();
    for (uint64_t key = first; key < std::min(end, first + kBatch); ++key) keys.push_back(key);
    Check(client.PushSparse(table, keys,
                            absl::MakeConstSpan(rows).subspan(0, keys.size() * kSparseDim)),
          "PushSparse");
  }
}

Curve SparseMemory(const ScalingOptions& options) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  std::unique_ptr<PsClient> client = Connect(*cluster, /*observer=*/false);
  v1::TableSpec spec =
      NewTableSpec("rows", v1::TABLE_KIND_SPARSE, kSparseDim, v1::ConsistencySpec::MODEL_ASP);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAGRAD);
  spec.mutable_optimizer()->set_learning_rate(0.05f);
  spec.mutable_optimizer()->set_epsilon(1e-8f);
  spec.mutable_optimizer()->set_initial_accumulator(0.1f);
  const v1::TableInfo table = CreateTable(*client, spec);
  // The baseline includes gRPC's buffers and the allocator's arenas after pushes of the batch
  // size, on a table of its own, so that the differences below are the rows alone.
  v1::TableSpec warmup_spec = spec;
  warmup_spec.set_name("warmup");
  const v1::TableInfo warmup = CreateTable(*client, warmup_spec);
  CreateRows(*client, warmup, 0, 200000);
  const pid_t server = cluster->server(0).pid();
  const uint64_t baseline = ResidentBytes(server);
  // Adagrad keeps one accumulator per value.
  constexpr double kRawBytesPerRow = 2.0 * kSparseDim * sizeof(float);
  Curve curve{"sparse_memory",
              absl::StrCat("Sparse server memory vs rows: dim ", kSparseDim,
                           ", Adagrad, 1 server, 4 shards; server VmRSS growth over a baseline of ",
                           baseline / kMiB,
                           " MiB, divided by the rows; raw = values + "
                           "optimizer state"),
              {"rows", "rss_growth_MiB", "bytes_per_row", "raw_bytes_per_row", "over_raw"},
              {}};
  uint64_t created = 0;
  for (int64_t rows = 100000; rows <= options.max_rows; rows *= 10) {
    CreateRows(*client, table, created, rows);
    created = rows;
    const uint64_t resident = ResidentBytes(server);
    const double growth = resident > baseline ? static_cast<double>(resident - baseline) : 0.0;
    curve.rows.push_back({static_cast<double>(rows), growth / kMiB, growth / rows, kRawBytesPerRow,
                          growth / rows / kRawBytesPerRow});
    Progress(absl::StrCat("sparse_memory: ", rows, " rows done"));
  }
  return curve;
}

// --- parked_pulls ------------------------------------------------------------------------------

// Raw Pull calls at a clock the server cannot serve yet, in flight until Release() makes it
// servable. They go over several connections of their own, 100 calls on each: HTTP/2 servers
// may cap concurrent streams per connection, and a capped call would wait in this process
// instead of being parked at the server.
class ParkedPulls {
 public:
  ParkedPulls(const std::string& address, int count, const grpc::ByteBuffer& request) {
    constexpr int kCallsPerConnection = 100;
    for (int i = 0; i < count; ++i) {
      if (i % kCallsPerConnection == 0) {
        grpc::ChannelArguments arguments;
        arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
        arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // A connection of its own.
        stubs_.push_back(std::make_unique<grpc::GenericStub>(
            grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments)));
      }
      auto call = std::make_unique<Call>();
      call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
      call->request = request;
      Call* raw = call.get();
      calls_.push_back(std::move(call));
      stubs_.back()->UnaryCall(&raw->context, "/ps.v1.ParameterServer/Pull", grpc::StubOptions(),
                               &raw->request, &raw->response, [this, raw](grpc::Status status) {
                                 absl::MutexLock lock(&mu_);
                                 raw->status = std::move(status);
                                 ++answered_;
                               });
    }
  }
  ParkedPulls(const ParkedPulls&) = delete;
  ParkedPulls& operator=(const ParkedPulls&) = delete;
  // Cancels the calls still parked and waits for every answer (the calls' memory must outlive
  // them).
  ~ParkedPulls() {
    for (const auto& call : calls_) call->context.TryCancel();
    AwaitAll().IgnoreError();
  }

  int answered() {
    absl::MutexLock lock(&mu_);
    return answered_;
  }

  // Waits for every answer; returns the first error.
  absl::Status AwaitAll() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ParkedPulls::AllAnsweredLocked));
    for (const auto& call : calls_) {
      if (!call->status.ok()) {
        return absl::InternalError(
            absl::StrCat("a parked pull failed: ", call->status.error_message()));
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    grpc::Status status;
  };

  bool AllAnsweredLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<size_t>(answered_) == calls_.size();
  }

  // Constant after construction.
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<Call>> calls_;
  mutable absl::Mutex mu_;
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ProbeFigures {
  double pull_p50_us = 0;
  double pull_p99_us = 0;
  double push_p50_us = 0;
  double push_p99_us = 0;
};

// Latencies of `requests` ordinary pulls, then pushes, of a small ASP table.
ProbeFigures Probe(PsClient& client, const v1::TableInfo& table, int requests) {
  std::vector<float> values(table.spec().dense_size(), 0.01f);
  std::vector<double> pulls, pushes;
  for (int i = 0; i < requests; ++i) {
    const absl::Time start = absl::Now();
    Check(client.Pull(table, absl::MakeSpan(values)), "probe pull");
    pulls.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  for (int i = 0; i < requests; ++i) {
    const absl::Time start = absl::Now();
    Check(client.Push(table, values), "probe push");
    pushes.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(pulls.begin(), pulls.end());
  std::sort(pushes.begin(), pushes.end());
  return {Percentile(pulls, 0.5), Percentile(pulls, 0.99), Percentile(pushes, 0.5),
          Percentile(pushes, 0.99)};
}

Curve ParkedPullLatency(const ScalingOptions& options) {
  constexpr uint64_t kProbeFloats = 16 * kKiB;  // A 64 KiB table.
  constexpr uint64_t kParkingFloats = 1024;
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  // This worker is the slow one of the BSP table: until it pushes clock c there, no pull at
  // clock c + 1 of that table can be served, so the server parks them.
  std::unique_ptr<PsClient> client = Connect(*cluster, /*observer=*/false);
  const v1::TableInfo bsp =
      CreateTable(*client, NewTableSpec("parking", v1::TABLE_KIND_DENSE, kParkingFloats,
                                        v1::ConsistencySpec::MODEL_BSP));
  const v1::TableInfo probe = CreateTable(
      *client,
      NewTableSpec("probe", v1::TABLE_KIND_DENSE, kProbeFloats, v1::ConsistencySpec::MODEL_ASP));
  Probe(*client, probe, options.probe_requests / 10 + 1);  // Warm-up.

  // Rounds alternate the two conditions so that the shared machine's noisy moments hit both.
  std::vector<ProbeFigures> none, parked;
  std::vector<double> release_ms;
  for (int round = 0; round < options.rounds; ++round) {
    none.push_back(Probe(*client, probe, options.probe_requests));
    // The raw pulls carry the epoch and catalog version of the current map, as the client would.
    absl::StatusOr<v1::ClusterMap> map = cluster->WaitForMap(
        [&](const v1::ClusterMap& m) {
          for (const v1::TableInfo& table : m.tables()) {
            if (table.table_id() == bsp.table_id()) return true;
          }
          return false;
        },
        absl::Seconds(10));
    Check(map.status(), "reading the map");
    v1::PullRequest header;
    header.set_epoch(map->epoch());
    header.set_catalog_version(map->catalog_version());
    header.set_worker_id(client->worker_id());
    header.set_incarnation(client->incarnation());
    header.set_clock(client->clock() + 1);
    v1::ShardSlice* slice = header.add_slices();
    slice->set_table_id(bsp.table_id());
    slice->set_shard_id(0);
    ParkedPulls pulls(cluster->server_address(0), options.parked_pulls, MakeFrame(header, {}));
    // The calls are asynchronous and nothing reports their arrival at the server: give them a
    // moment to get there before measuring beside them.
    absl::SleepFor(absl::Seconds(1));
    parked.push_back(Probe(*client, probe, options.probe_requests));
    if (pulls.answered() != 0) {
      Check(absl::InternalError(absl::StrCat(pulls.answered(), " were answered early")),
            "parking pulls");
    }
    // The release: this worker pushes its clock, which completes it.
    const absl::Time release = absl::Now();
    Check(client->Push(bsp, std::vector<float>(kParkingFloats, 0.0f)), "BSP push");
    client->AdvanceClock();
    Check(pulls.AwaitAll(), "releasing the parked pulls");
    release_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - release));
  }
  const auto median = [](const std::vector<ProbeFigures>& figures, double ProbeFigures::*field) {
    std::vector<double> values;
    for (const ProbeFigures& f : figures) values.push_back(f.*field);
    return Median(values);
  };
  Curve curve{"parked_pulls",
              absl::StrCat("Ordinary 64 KiB dense pull and push latency with BSP pulls parked on "
                           "the same server (at a clock one worker has not pushed): 1 server, 4 "
                           "shards; us, median over ",
                           options.rounds, " rounds of ", options.probe_requests,
                           " requests each; release_ms = until all parked pulls were answered "
                           "after that worker's push"),
              {"parked_pulls", "pull_p50_us", "pull_p99_us", "push_p50_us", "push_p99_us",
               "pull_p99_vs_none", "push_p99_vs_none", "release_ms"},
              {}};
  for (const auto& [count, figures] : {std::pair<int, const std::vector<ProbeFigures>*>{0, &none},
                                       {options.parked_pulls, &parked}}) {
    curve.rows.push_back(
        {static_cast<double>(count), median(*figures, &ProbeFigures::pull_p50_us),
         median(*figures, &ProbeFigures::pull_p99_us), median(*figures, &ProbeFigures::push_p50_us),
         median(*figures, &ProbeFigures::push_p99_us),
         median(*figures, &ProbeFigures::pull_p99_us) / median(none, &ProbeFigures::pull_p99_us),
         median(*figures, &ProbeFigures::push_p99_us) / median(none, &ProbeFigures::push_p99_us),
         count == 0 ? std::nan("") : Median(release_ms)});
  }
  return curve;
}

ScalingOptions OptionsFromFlags() {
  ScalingOptions options;
  options.curves = absl::StrSplit(absl::GetFlag(FLAGS_curves), ',', absl::SkipEmpty());
  options.out = absl::GetFlag(FLAGS_out);
  options.quick = absl::GetFlag(FLAGS_quick);
  if (options.quick) {
    options.rounds = 2;
    options.dense_sizes = {64 * kKiB, 1 * kMiB, 16 * kMiB};
    options.bytes_per_round = 32 * kMiB;
    options.server_steps = 3;
    options.server_counts = {1, 2};
    options.worker_counts = {1, 2};
    options.bsp_table_size = 1 << 20;
    options.bsp_steps = 3;
    options.keys_per_request = {10, 1000, 100000};
    options.sparse_time = absl::Milliseconds(300);
    options.sparse_min_requests = 3;
    options.max_rows = 1000000;
    options.parked_pulls = 1000;
    options.probe_requests = 200;
  } else {
    options.rounds = 5;
    options.dense_sizes = {64 * kKiB, 256 * kKiB, 1 * kMiB, 4 * kMiB, 16 * kMiB, 64 * kMiB};
    options.bytes_per_round = 256 * kMiB;
    options.server_steps = 10;
    options.server_counts = {1, 2, 4};
    options.worker_counts = {1, 2, 4, 8};
    options.bsp_table_size = 1 << 20;
    options.bsp_steps = 30;
    options.keys_per_request = {10, 100, 1000, 10000, 100000};
    options.sparse_time = absl::Seconds(3);
    options.sparse_min_requests = 20;
    options.max_rows = 10000000;
    options.parked_pulls = 1000;
    options.probe_requests = 1000;
  }
  if (absl::GetFlag(FLAGS_rounds) > 0) options.rounds = absl::GetFlag(FLAGS_rounds);
  if (absl::GetFlag(FLAGS_max_rows) > 0) options.max_rows = absl::GetFlag(FLAGS_max_rows);
  return options;
}

int Run(const ScalingOptions& options) {
  using Measure = Curve (*)(const ScalingOptions&);
  const std::vector<std::pair<std::string, Measure>> known = {
      {"dense_size", DenseVsSize},     {"dense_servers", DenseVsServers},
      {"bsp_workers", BspVsWorkers},   {"sparse_keys", SparseVsKeys},
      {"sparse_memory", SparseMemory}, {"parked_pulls", ParkedPullLatency}};
  for (const std::string& name : options.curves) {
    if (std::none_of(known.begin(), known.end(), [&](const auto& k) { return k.first == name; })) {
      std::fprintf(stderr, "scaling_bench: unknown curve %s\n", name.c_str());
      return 2;
    }
  }
  std::vector<Curve> curves;
  for (const auto& [name, measure] : known) {
    if (std::find(options.curves.begin(), options.curves.end(), name) == options.curves.end()) {
      continue;
    }
    const absl::Time start = absl::Now();
    curves.push_back(measure(options));
    PrintCurve(curves.back(), stdout);
    Progress(absl::StrCat(
        name, " took ",
        absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100)))));
    // Written after every curve, so that a later failure keeps what was measured.
    Check(WriteCurves(curves, options.out), "writing " + options.out);
  }
  return 0;
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Logs go to stderr, like the progress lines; stdout holds only the tables.
  if (!ps::InitLogging("scaling_bench", "warn").ok()) return 2;
  const ps::bench::ScalingOptions options = ps::bench::OptionsFromFlags();
  if (options.out.empty()) {
    std::fprintf(stderr, "scaling_bench: --out=DIR is required\n");
    return 2;
  }
  return ps::bench::Run(options);
}
