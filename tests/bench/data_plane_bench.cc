// Data-plane throughput and latency: 1 parameter server (a real ps_server process) and 1 worker
// (this process) on loopback. Dense f32 push and pull of 1, 16 and 64 MB are measured against,
// in the same run, a plain TCP stream of the same bytes and a plain gRPC unary call carrying one
// `bytes` field; sparse pushes and pulls of 1000 random keys x dim 16 over 4 shards report keys/s
// and p50/p99 latency. Google Benchmark output goes to stdout (--benchmark_format=json works);
// the ratio table goes to stderr.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "grpcpp/grpcpp.h"
#include "tests/bench/plain_bytes.grpc.pb.h"
#include "tests/bench/tcp_sink.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

namespace ps::bench {
namespace {

constexpr uint32_t kShards = 4;
constexpr size_t kSparseKeys = 1000;
constexpr uint32_t kSparseDim = 16;
// Random keys come from this many distinct ones, so the server's rows stop growing.
constexpr uint64_t kSparseUniverse = 1 << 20;

size_t MegabytesToBytes(int64_t megabytes) { return static_cast<size_t>(megabytes) << 20; }

// The plain gRPC baseline: protobuf `bytes`, parsed and serialized the usual way.
class PlainBytesService final : public PlainBytes::Service {
 public:
  grpc::Status Upload(grpc::ServerContext*, const Blob*, Blob*) override {
    return grpc::Status::OK;
  }
  grpc::Status Download(grpc::ServerContext*, const Blob* request, Blob* response) override {
    response->mutable_data()->assign(request->size(), 'x');
    return grpc::Status::OK;
  }
};

struct Fixture {
  std::unique_ptr<testing::LocalCluster> cluster;
  std::unique_ptr<PsClient> client;
  std::map<int64_t, v1::TableInfo> dense;  // By megabytes.
  v1::TableInfo sparse;
  TcpSink tcp;
  PlainBytesService plain_service;
  std::unique_ptr<grpc::Server> plain_server;
  std::unique_ptr<PlainBytes::Stub> plain;
};
Fixture* fixture = nullptr;

// GB/s of every dense benchmark's last run, by "what/megabytes", for the ratio table.
std::map<std::string, double>& Throughputs() {
  static auto* throughputs = new std::map<std::string, double>;
  return *throughputs;
}

v1::TableSpec DenseSpec(int64_t megabytes) {
  v1::TableSpec spec;
  spec.set_name(absl::StrCat("dense_", megabytes, "mb"));
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(MegabytesToBytes(megabytes) / sizeof(float));
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1e-6f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  return spec;
}

absl::Status SetUp() {
  testing::LocalClusterOptions options;
  options.servers = 1;
  options.workers = 0;
  options.num_shards = kShards;
  options.replication_factor = 1;
  absl::StatusOr<std::unique_ptr<testing::LocalCluster>> cluster =
      testing::LocalCluster::Start(options);
  if (!cluster.ok()) return cluster.status();
  fixture->cluster = *std::move(cluster);
  PsClientOptions client_options;
  client_options.coordinator_address = fixture->cluster->coordinator_address();
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
  if (!client.ok()) return client.status();
  fixture->client = *std::move(client);
  for (int64_t megabytes : {1, 16, 64}) {
    absl::StatusOr<v1::TableInfo> table = fixture->client->CreateTable(DenseSpec(megabytes));
    if (!table.ok()) return table.status();
    fixture->dense[megabytes] = *table;
  }
  v1::TableSpec sparse = DenseSpec(0);
  sparse.set_name("sparse");
  sparse.set_kind(v1::TABLE_KIND_SPARSE);
  sparse.clear_dense_size();
  sparse.set_sparse_dim(kSparseDim);
  absl::StatusOr<v1::TableInfo> table = fixture->client->CreateTable(sparse);
  if (!table.ok()) return table.status();
  fixture->sparse = *table;

  if (absl::Status tcp = fixture->tcp.Start(); !tcp.ok()) return tcp;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&fixture->plain_service);
  fixture->plain_server = builder.BuildAndStart();
  if (fixture->plain_server == nullptr) return absl::InternalError("cannot start plain gRPC");
  fixture->plain = PlainBytes::NewStub(OpenChannel(absl::StrCat("127.0.0.1:", port)));
  return absl::OkStatus();
}

// Runs `step` once per iteration, moving `bytes` each time, and records GB/s under `name`.
template <typename Step>
void MeasureDense(benchmark::State& state, const std::string& name, size_t bytes, Step step) {
  int64_t iterations = 0;
  const absl::Time start = absl::Now();
  for (auto _ : state) {
    if (!step()) {
      state.SkipWithError(("failed: " + name).c_str());
      return;
    }
    ++iterations;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  state.SetBytesProcessed(iterations * static_cast<int64_t>(bytes));
  const double gbps = iterations * static_cast<double>(bytes) / seconds / 1e9;
  state.counters["GBps"] = gbps;
  Throughputs()[absl::StrCat(name, "/", state.range(0))] = gbps;
}

void BM_TcpStream(benchmark::State& state) {
  const size_t bytes = MegabytesToBytes(state.range(0));
  std::vector<char> data(bytes, 1);
  MeasureDense(state, "tcp", bytes, [&] { return fixture->tcp.RoundTrip(data.data(), bytes); });
}

void BM_PlainGrpcUpload(benchmark::State& state) {
  const size_t bytes = MegabytesToBytes(state.range(0));
  Blob request;
  request.mutable_data()->assign(bytes, 'x');
  MeasureDense(state, "plain_push", bytes, [&] {
    grpc::ClientContext context;
    Blob response;
    return fixture->plain->Upload(&context, request, &response).ok();
  });
}

void BM_PlainGrpcDownload(benchmark::State& state) {
  const size_t bytes = MegabytesToBytes(state.range(0));
  Blob request;
  request.set_size(bytes);
  MeasureDense(state, "plain_pull", bytes, [&] {
    grpc::ClientContext context;
    Blob response;
    return fixture->plain->Download(&context, request, &response).ok() &&
           response.data().size() == bytes;
  });
}

void BM_PsDensePush(benchmark::State& state) {
  const v1::TableInfo& table = fixture->dense[state.range(0)];
  std::vector<float> gradient(table.spec().dense_size(), 0.5f);
  MeasureDense(state, "ps_push", gradient.size() * sizeof(float),
               [&] { return fixture->client->Push(table, gradient).ok(); });
}

void BM_PsDensePull(benchmark::State& state) {
  const v1::TableInfo& table = fixture->dense[state.range(0)];
  std::vector<float> values(table.spec().dense_size());
  MeasureDense(state, "ps_pull", values.size() * sizeof(float),
               [&] { return fixture->client->Pull(table, absl::MakeSpan(values)).ok(); });
}

// Sparse: one op per iteration on 1000 fresh random keys; keys/s and latency percentiles.
void MeasureSparse(benchmark::State& state, bool push) {
  std::mt19937_64 random(42);
  std::vector<uint64_t> keys(kSparseKeys);
  std::vector<float> rows(kSparseKeys * kSparseDim, 0.01f);
  std::vector<double> latencies_us;
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t& key : keys) key = random() % kSparseUniverse;
    state.ResumeTiming();
    const absl::Time start = absl::Now();
    const absl::Status status =
        push ? fixture->client->PushSparse(fixture->sparse, keys, rows)
             : fixture->client->PullSparse(fixture->sparse, keys, absl::MakeSpan(rows));
    latencies_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  const auto percentile = [&](double p) {
    return latencies_us[std::min(latencies_us.size() - 1,
                                 static_cast<size_t>(p * latencies_us.size()))];
  };
  state.SetItemsProcessed(state.iterations() * kSparseKeys);  // items/s = keys/s.
  state.counters["p50_us"] = percentile(0.50);
  state.counters["p99_us"] = percentile(0.99);
}

void BM_PsSparsePush(benchmark::State& state) { MeasureSparse(state, true); }
void BM_PsSparsePull(benchmark::State& state) { MeasureSparse(state, false); }

void DenseSizes(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
}
BENCHMARK(BM_TcpStream)->Apply(DenseSizes);
BENCHMARK(BM_PlainGrpcUpload)->Apply(DenseSizes);
BENCHMARK(BM_PlainGrpcDownload)->Apply(DenseSizes);
BENCHMARK(BM_PsDensePush)->Apply(DenseSizes);
BENCHMARK(BM_PsDensePull)->Apply(DenseSizes);
BENCHMARK(BM_PsSparsePush)->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(10.0);
BENCHMARK(BM_PsSparsePull)->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(10.0);

void PrintRatios() {
  const std::map<std::string, double>& t = Throughputs();
  const auto get = [&](const std::string& name, int64_t megabytes) {
    const auto it = t.find(absl::StrCat(name, "/", megabytes));
    return it == t.end() ? 0.0 : it->second;
  };
  std::fprintf(stderr,
               "\nDense f32 over loopback, GB/s (same run):\n"
               "  MB   raw TCP  plain gRPC push  ps push  push/TCP  push/plain  "
               "plain gRPC pull  ps pull  pull/TCP  pull/plain\n");
  for (int64_t megabytes : {1, 16, 64}) {
    const double tcp = get("tcp", megabytes);
    const double plain_push = get("plain_push", megabytes);
    const double push = get("ps_push", megabytes);
    const double plain_pull = get("plain_pull", megabytes);
    const double pull = get("ps_pull", megabytes);
    if (tcp == 0) continue;  // Filtered out by --benchmark_filter.
    const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    std::fprintf(stderr,
                 "  %-3lld  %7.2f  %15.2f  %7.2f  %8.2f  %10.2f  %15.2f  %7.2f  %8.2f  %10.2f\n",
                 static_cast<long long>(megabytes), tcp, plain_push, push, ratio(push, tcp),
                 ratio(push, plain_push), plain_pull, pull, ratio(pull, tcp),
                 ratio(pull, plain_pull));
  }
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  // Logs go to stderr so that stdout stays pure benchmark output (JSON included).
  if (!ps::InitLogging("bench", "warn").ok()) return 2;
  ps::bench::fixture = new ps::bench::Fixture;
  if (absl::Status setup = ps::bench::SetUp(); !setup.ok()) {
    std::fprintf(stderr, "data_plane_bench: cannot set up: %s\n", setup.ToString().c_str());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  ps::bench::PrintRatios();
  benchmark::Shutdown();
  delete ps::bench::fixture;
  return 0;
}
