// Checkpoints and restore against real processes: the files equal the primaries' state; a
// cluster restored onto fewer or more servers holds every replica bitwise equal to the files and
// trains on from there; damaged checkpoints are skipped with a clear log line; an unwritable
// checkpoint directory fails the checkpoint and nothing else.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/checkpoint/file_damage.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"
#include "worker/model/checkpoint_model.h"

namespace ps::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kShards = 8;
constexpr uint64_t kDenseSize = 1000;

v1::TableSpec DenseSpec(const std::string& name, v1::ConsistencySpec::Model model,
                        v1::OptimizerSpec::Kind optimizer) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(kDenseSize);
  spec.mutable_optimizer()->set_kind(optimizer);
  spec.mutable_optimizer()->set_learning_rate(optimizer == v1::OptimizerSpec::KIND_SGD ? 1.0f
                                                                                       : 0.1f);
  if (optimizer == v1::OptimizerSpec::KIND_MOMENTUM) spec.mutable_optimizer()->set_momentum(0.9f);
  spec.mutable_consistency()->set_model(model);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_UNIFORM);
  spec.mutable_initializer()->set_seed(5);
  spec.mutable_initializer()->set_min(-1.0f);
  spec.mutable_initializer()->set_max(1.0f);
  return spec;
}

v1::TableSpec SparseSpec() {
  v1::TableSpec spec;
  spec.set_name("sparse_ssp");
  spec.set_kind(v1::TABLE_KIND_SPARSE);
  spec.set_sparse_dim(3);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAGRAD);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_optimizer()->set_epsilon(1e-6f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_SSP);
  spec.mutable_consistency()->set_staleness(2);
  return spec;
}

std::unique_ptr<PsClient> Connect(LocalCluster& cluster, bool observer) {
  PsClientOptions options;
  options.coordinator_address = cluster.coordinator_address();
  options.observer = observer;
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// A ShardState with the fields that only say which primary term wrote it cleared, and its payload.
struct State {
  std::string header;
  std::string payload;
};

State Parse(const grpc::ByteBuffer& frame) {
  v1::ShardState state;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &state);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  State parsed;
  parsed.payload.resize(reader->remaining());
  EXPECT_TRUE(reader->Read(parsed.payload.data(), parsed.payload.size()).ok());
  // A restored primary starts a term of its own cluster; everything else is the checkpoint's.
  state.clear_term_epoch();
  state.clear_term_base_index();
  parsed.header = state.SerializeAsString();
  return parsed;
}

// The state of (table, shard) as the server at `address` holds it (an observer's snapshot).
absl::StatusOr<State> FetchStateOnce(const std::string& address, uint32_t table, uint32_t shard) {
  auto stub = v1::ParameterServer::NewStub(OpenChannel(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::FetchShardSnapshotRequest request;
  request.set_table_id(table);
  request.set_shard_id(shard);
  request.set_requester_id(0);
  auto reader = stub->FetchShardSnapshot(&context, request);
  std::string frame;
  v1::ShardSnapshotChunk chunk;
  while (reader->Read(&chunk)) frame += chunk.payload();
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("snapshot of table ", table, " shard ", shard,
                                            " from ", address, ": ", status.error_message()));
  }
  grpc::Slice slice(frame);
  return Parse(grpc::ByteBuffer(&slice, 1));
}

// FetchStateOnce, waiting (up to 10 s) for a server that has not adopted the map placing the
// shard yet.
absl::StatusOr<State> FetchState(const std::string& address, uint32_t table, uint32_t shard) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    absl::StatusOr<State> state = FetchStateOnce(address, table, shard);
    if (state.ok() || absl::Now() > deadline) return state;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

v1::ClusterStatus Status(LocalCluster& cluster) {
  grpc::ClientContext context;
  v1::ClusterStatus status;
  EXPECT_TRUE(cluster.coordinator().GetClusterStatus(&context, {}, &status).ok());
  return status;
}

std::string AddressOf(const v1::ClusterMap& map, uint32_t server_id) {
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.server_id() == server_id) return server.address();
  }
  return "";
}

absl::StatusOr<v1::CheckpointNowResponse> TakeCheckpoint(LocalCluster& cluster) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::CheckpointNowResponse response;
  const grpc::Status status = cluster.coordinator().Checkpoint(&context, {}, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response;
}

// Every replica (`all_replicas`) or every primary of every file of the checkpoint in
// `directory` holds exactly the file's state. Returns the number of comparisons.
int ExpectClusterHolds(LocalCluster& cluster, const std::string& directory, bool all_replicas) {
  absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(directory);
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  if (!manifest.ok()) return 0;
  const v1::ClusterMap map = Status(cluster).map();
  int compared = 0;
  for (const v1::ShardCheckpoint& file : manifest->shards()) {
    absl::StatusOr<ShardFile> read = ReadShardFile(absl::StrCat(directory, "/", file.path()));
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) continue;
    const State expected = Parse(read->frame);
    const v1::ShardAssignment& shard = map.shards(file.shard_id());
    const int replicas = all_replicas ? shard.replicas_size() : 1;
    for (int i = 0; i < replicas; ++i) {
      absl::StatusOr<State> held =
          FetchState(AddressOf(map, shard.replicas(i)), file.table_id(), file.shard_id());
      EXPECT_TRUE(held.ok()) << held.status();
      if (!held.ok()) continue;
      EXPECT_EQ(held->header, expected.header)
          << "table " << file.table_id() << " shard " << file.shard_id() << " on server "
          << shard.replicas(i);
      EXPECT_TRUE(held->payload == expected.payload)
          << "table " << file.table_id() << " shard " << file.shard_id() << " on server "
          << shard.replicas(i) << ": values or optimizer state differ";
      ++compared;
    }
  }
  return compared;
}

std::vector<float> Gradient(int step) {
  std::vector<float> gradient(kDenseSize);
  for (uint64_t i = 0; i < kDenseSize; ++i) {
    gradient[i] = static_cast<float>((i * 7 + step) % 11) - 5.0f;
  }
  return gradient;
}

// The three tables Train() trains: dense ASP with SGD, dense BSP with momentum, sparse SSP with
// Adagrad. Empty if one could not be created (the failure is recorded).
std::vector<v1::TableInfo> CreateTables(PsClient& client) {
  std::vector<v1::TableInfo> tables;
  for (const v1::TableSpec& spec :
       {DenseSpec("asp_sgd", v1::ConsistencySpec::MODEL_ASP, v1::OptimizerSpec::KIND_SGD),
        DenseSpec("bsp_momentum", v1::ConsistencySpec::MODEL_BSP,
                  v1::OptimizerSpec::KIND_MOMENTUM),
        SparseSpec()}) {
    absl::StatusOr<v1::TableInfo> table = client.CreateTable(spec);
    EXPECT_TRUE(table.ok()) << table.status();
    if (!table.ok()) return {};
    tables.push_back(*table);
  }
  return tables;
}

// `steps` training steps of one worker over the three tables.
void Train(PsClient& client, const std::vector<v1::TableInfo>& tables, int first, int steps) {
  for (int step = first; step < first + steps; ++step) {
    const std::vector<float> gradient = Gradient(step);
    ASSERT_TRUE(client.Push(tables[0], gradient).ok());
    ASSERT_TRUE(client.Push(tables[1], gradient).ok());
    std::vector<uint64_t> keys;
    std::vector<float> rows;
    for (uint64_t k = 0; k < 50; ++k) {
      keys.push_back(k * 1000003 + static_cast<uint64_t>(step % 3));
      for (int j = 0; j < 3; ++j) rows.push_back(0.5f * static_cast<float>(j + 1));
    }
    ASSERT_TRUE(client.PushSparse(tables[2], keys, rows).ok());
    client.AdvanceClock();
  }
}

LocalClusterOptions Options(int servers, const std::string& checkpoint_dir, bool restore) {
  LocalClusterOptions options;
  options.servers = servers;
  options.workers = 0;
  options.num_shards = kShards;
  options.coordinator_args = {"--checkpoint_dir=" + checkpoint_dir};
  if (restore) options.coordinator_args.push_back("--restore");
  return options;
}

TEST(CheckpointTest, RestoresBitwiseOntoFewerAndMoreServersAndTrainsOn) {
  const std::string checkpoints = MakeTempDir("checkpoints");
  std::string directory;
  uint64_t bsp_clock = 0;
  {
    absl::StatusOr<std::unique_ptr<LocalCluster>> started =
        LocalCluster::Start(Options(3, checkpoints, false));
    ASSERT_TRUE(started.ok()) << started.status();
    LocalCluster& cluster = **started;
    std::unique_ptr<PsClient> client = Connect(cluster, false);
    ASSERT_TRUE(client);
    const std::vector<v1::TableInfo> tables = CreateTables(*client);
    ASSERT_EQ(tables.size(), 3u);
    Train(*client, tables, 0, 12);
    absl::StatusOr<v1::CheckpointNowResponse> taken = TakeCheckpoint(cluster);
    ASSERT_TRUE(taken.ok()) << taken.status() << cluster.AllLogs();
    EXPECT_EQ(taken->checkpoint_id(), 1u);
    EXPECT_EQ(taken->shards_size(), static_cast<int>(3 * kShards));
    directory = taken->directory();
    // Nothing trained since: the files hold exactly what every replica holds.
    EXPECT_EQ(ExpectClusterHolds(cluster, directory, /*all_replicas=*/true),
              static_cast<int>(3 * kShards * 2));
    // As ps_worker --mode=evaluate --checkpoint_in reads them, the dense tables are whole and
    // bitwise what a pull returns (the momentum table's files also hold its slot).
    for (int t : {0, 1}) {
      std::vector<float> pulled(kDenseSize);
      ASSERT_TRUE(client->Pull(tables[t], absl::MakeSpan(pulled)).ok());
      absl::StatusOr<CheckpointedDenseTable> read =
          ReadDenseTableFromCheckpoint(directory, tables[t].spec().name());
      ASSERT_TRUE(read.ok()) << read.status();
      ASSERT_EQ(read->values.size(), pulled.size());
      EXPECT_EQ(std::memcmp(read->values.data(), pulled.data(), kDenseSize * sizeof(float)), 0)
          << tables[t].spec().name();
    }
    absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(directory);
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    ASSERT_EQ(manifest->bsp_cut_clocks().count(tables[1].table_id()), 1u);
    bsp_clock = manifest->bsp_cut_clocks().at(tables[1].table_id());
    EXPECT_EQ(bsp_clock, 12u);
    ASSERT_EQ(manifest->progress_size(), 1);
    EXPECT_EQ(manifest->progress(0).steps_done(), 12u);
    // Every daemon dies at once, as in a power cut.
  }
  for (int servers : {2, 4}) {
    SCOPED_TRACE(absl::StrCat("restored onto ", servers, " servers"));
    absl::StatusOr<std::unique_ptr<LocalCluster>> started =
        LocalCluster::Start(Options(servers, checkpoints, true));
    ASSERT_TRUE(started.ok()) << started.status();
    LocalCluster& cluster = **started;
    EXPECT_EQ(ExpectClusterHolds(cluster, directory, /*all_replicas=*/true),
              static_cast<int>(3 * kShards * 2))
        << cluster.AllLogs();
    EXPECT_EQ(Status(cluster).checkpoints().restored_from_id(), 1u);

    // Training goes on from the checkpoint: the catalog is there, the BSP table continues at
    // the cut's clock, and an SGD step with learning rate 1 moves every value by exactly -g.
    std::unique_ptr<PsClient> client = Connect(cluster, false);
    ASSERT_TRUE(client);
    EXPECT_EQ(client->resume_steps(), 12u);
    absl::StatusOr<v1::TableInfo> asp = client->LookupTable("asp_sgd");
    absl::StatusOr<v1::TableInfo> bsp = client->LookupTable("bsp_momentum");
    ASSERT_TRUE(asp.ok() && bsp.ok());
    std::vector<float> before(kDenseSize), after(kDenseSize);
    ASSERT_TRUE(client->Pull(*asp, absl::MakeSpan(before)).ok());
    const std::vector<float> gradient = Gradient(99);
    ASSERT_TRUE(client->Push(*asp, gradient).ok());
    ASSERT_TRUE(client->Pull(*asp, absl::MakeSpan(after)).ok());
    for (uint64_t i = 0; i < kDenseSize; ++i) {
      ASSERT_EQ(after[i], before[i] - gradient[i]) << "element " << i;
    }
    client->SetClock(bsp_clock);
    EXPECT_TRUE(client->Push(*bsp, gradient).ok()) << cluster.AllLogs();
    client->AdvanceClock();
    EXPECT_TRUE(client->Pull(*bsp, absl::MakeSpan(after)).ok());
  }
}

// Checkpoint `cluster` after another step of training on an SGD table.
uint64_t TrainAndCheckpoint(LocalCluster& cluster, PsClient& client, const v1::TableInfo& table,
                            int step) {
  EXPECT_TRUE(client.Push(table, Gradient(step)).ok());
  absl::StatusOr<v1::CheckpointNowResponse> taken = TakeCheckpoint(cluster);
  EXPECT_TRUE(taken.ok()) << taken.status();
  return taken.ok() ? taken->checkpoint_id() : 0;
}

// A cluster with a worker client and one dense ASP table with SGD; the client is null (and the
// failure recorded) when something failed.
struct SgdCluster {
  std::unique_ptr<LocalCluster> cluster;
  std::unique_ptr<PsClient> client;
  v1::TableInfo table;
};
SgdCluster StartSgdCluster(const LocalClusterOptions& options) {
  SgdCluster sgd;
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return sgd;
  sgd.cluster = *std::move(started);
  std::unique_ptr<PsClient> client = Connect(*sgd.cluster, false);
  if (!client) return sgd;
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(
      DenseSpec("asp_sgd", v1::ConsistencySpec::MODEL_ASP, v1::OptimizerSpec::KIND_SGD));
  EXPECT_TRUE(table.ok()) << table.status();
  if (!table.ok()) return sgd;
  sgd.table = *table;
  sgd.client = std::move(client);
  return sgd;
}

TEST(CheckpointTest, DamagedCheckpointsAreSkippedWithAClearMessage) {
  const std::string checkpoints = MakeTempDir("checkpoints");
  {
    LocalClusterOptions options = Options(2, checkpoints, false);
    options.coordinator_args.push_back("--checkpoint_keep=10");
    SgdCluster sgd = StartSgdCluster(options);
    ASSERT_TRUE(sgd.client);
    for (int step = 1; step <= 4; ++step) {
      ASSERT_EQ(TrainAndCheckpoint(*sgd.cluster, *sgd.client, sgd.table, step),
                static_cast<uint64_t>(step));
    }
  }
  // 4: a flipped byte in a shard file; 3: a truncated shard file; 2: no manifest.
  const std::string flipped = CheckpointDirectory(checkpoints, 4) + "/" + ShardFileName(1, 5);
  ASSERT_TRUE(FlipByte(flipped, fs::file_size(flipped) / 2, 0x20));
  const std::string truncated = CheckpointDirectory(checkpoints, 3) + "/" + ShardFileName(1, 2);
  fs::resize_file(truncated, fs::file_size(truncated) - 100);
  fs::remove(CheckpointDirectory(checkpoints, 2) + "/" + kManifestName);

  absl::StatusOr<std::unique_ptr<LocalCluster>> started =
      LocalCluster::Start(Options(2, checkpoints, true));
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  EXPECT_EQ(Status(cluster).checkpoints().restored_from_id(), 1u);
  const std::string log = cluster.coordinator_process().ReadLog();
  EXPECT_NE(log.find("skipping checkpoint ckpt-0000000004: " + flipped + ": checksum mismatch"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("skipping checkpoint ckpt-0000000003: " + truncated + ": truncated"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("skipping checkpoint ckpt-0000000002: " + CheckpointDirectory(checkpoints, 2) +
                     "/MANIFEST is missing"),
            std::string::npos)
      << log;
  EXPECT_EQ(ExpectClusterHolds(cluster, CheckpointDirectory(checkpoints, 1), true),
            static_cast<int>(kShards * 2));
}

TEST(CheckpointTest, AnUnwritableDirectoryFailsTheCheckpointAndNothingElse) {
  const std::string checkpoints = MakeTempDir("checkpoints");
  SgdCluster sgd = StartSgdCluster(Options(2, checkpoints, false));
  ASSERT_TRUE(sgd.client);
  LocalCluster& cluster = *sgd.cluster;
  PsClient& client = *sgd.client;
  const v1::TableInfo& table = sgd.table;
  ASSERT_EQ(TrainAndCheckpoint(cluster, client, table, 1), 1u);

  // The checkpoint's directory cannot be created: a plain file stands where it would go (root
  // ignores permission bits, so a mode change would not do).
  const std::string blocked = CheckpointDirectory(checkpoints, 2);
  std::ofstream(blocked) << "in the way";
  ASSERT_TRUE(client.Push(table, Gradient(2)).ok());
  absl::StatusOr<v1::CheckpointNowResponse> failed = TakeCheckpoint(cluster);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find(blocked), std::string::npos) << failed.status();
  const v1::CheckpointStatus status = Status(cluster).checkpoints();
  EXPECT_EQ(status.last_complete_id(), 1u);
  EXPECT_NE(status.last_error().find(blocked), std::string::npos) << status.ShortDebugString();

  // Training went on, and checkpoint 1 is intact.
  ASSERT_TRUE(client.Push(table, Gradient(3)).ok());
  std::vector<std::string> skipped;
  absl::StatusOr<RestorePoint> point = FindRestorePoint(checkpoints, std::nullopt, &skipped);
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_EQ(point->checkpoint_id, 1u);

  // Once the directory is usable again, checkpoints resume.
  fs::remove(blocked);
  absl::StatusOr<v1::CheckpointNowResponse> next = TakeCheckpoint(cluster);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(Status(cluster).checkpoints().last_error(), "");
  EXPECT_EQ(ExpectClusterHolds(cluster, next->directory(), true), static_cast<int>(kShards * 2));
}

TEST(CheckpointTest, PeriodicCheckpointsTakenDuringTrainingRestoreBitwise) {
  const std::string checkpoints = MakeTempDir("checkpoints");
  uint64_t newest = 0;
  {
    LocalClusterOptions options = Options(2, checkpoints, false);
    options.coordinator_args.push_back("--checkpoint_interval_s=1");
    options.coordinator_args.push_back("--checkpoint_keep=2");
    absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    LocalCluster& cluster = **started;
    std::unique_ptr<PsClient> client = Connect(cluster, false);
    ASSERT_TRUE(client);
    const std::vector<v1::TableInfo> tables = CreateTables(*client);
    ASSERT_EQ(tables.size(), 3u);
    // Train until three periodic checkpoints completed during it.
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int step = 0;
    while (Status(cluster).checkpoints().last_complete_id() < 3 && absl::Now() < deadline) {
      Train(*client, tables, step, 20);
      step += 20;
    }
    newest = Status(cluster).checkpoints().last_complete_id();
    ASSERT_GE(newest, 3u) << cluster.AllLogs();
    EXPECT_EQ(Status(cluster).checkpoints().last_error(), "");
    const std::string log = cluster.coordinator_process().ReadLog();
    EXPECT_NE(log.find("checkpoint 3 (periodic) complete"), std::string::npos) << log;
  }
  // Only the newest two complete ones are kept (a third may have been under way at the kill).
  absl::StatusOr<std::vector<uint64_t>> kept = ListCheckpoints(checkpoints);
  ASSERT_TRUE(kept.ok());
  int complete = 0;
  for (uint64_t id : *kept) complete += ReadManifest(CheckpointDirectory(checkpoints, id)).ok();
  EXPECT_EQ(complete, 2);
  std::vector<std::string> skipped;
  absl::StatusOr<RestorePoint> point = FindRestorePoint(checkpoints, std::nullopt, &skipped);
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_GE(point->checkpoint_id, newest);
  absl::StatusOr<std::unique_ptr<LocalCluster>> started =
      LocalCluster::Start(Options(3, checkpoints, true));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(ExpectClusterHolds(**started, point->directory, /*all_replicas=*/true),
            static_cast<int>(3 * kShards * 2));
}

TEST(CheckpointTest, ASparseTableOfAMillionRowsRoundTripsBitwise) {
  constexpr uint64_t kRows = 1'000'000;
  constexpr uint64_t kBatchRows = 100'000;
  const std::string checkpoints = MakeTempDir("checkpoints");
  std::string directory;
  {
    absl::StatusOr<std::unique_ptr<LocalCluster>> started =
        LocalCluster::Start(Options(2, checkpoints, false));
    ASSERT_TRUE(started.ok()) << started.status();
    LocalCluster& cluster = **started;
    std::unique_ptr<PsClient> client = Connect(cluster, false);
    ASSERT_TRUE(client);
    v1::TableSpec spec = SparseSpec();
    spec.set_name("million");
    spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
    spec.mutable_consistency()->clear_staleness();
    absl::StatusOr<v1::TableInfo> table = client->CreateTable(spec);
    ASSERT_TRUE(table.ok()) << table.status();
    std::vector<uint64_t> keys(kBatchRows);
    std::vector<float> rows(kBatchRows * 3);
    for (uint64_t first = 0; first < kRows; first += kBatchRows) {
      for (uint64_t i = 0; i < kBatchRows; ++i) {
        keys[i] = (first + i) * 0x9E3779B97F4A7C15ull;  // Spread over the key space.
        for (int j = 0; j < 3; ++j) rows[i * 3 + j] = static_cast<float>((i + j) % 7) - 3.0f;
      }
      ASSERT_TRUE(client->PushSparse(*table, keys, rows).ok());
    }
    absl::StatusOr<v1::CheckpointNowResponse> taken = TakeCheckpoint(cluster);
    ASSERT_TRUE(taken.ok()) << taken.status();
    directory = taken->directory();
    absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(directory);
    ASSERT_TRUE(manifest.ok());
    uint64_t rows_written = 0;
    for (const v1::ShardCheckpoint& file : manifest->shards()) {
      absl::StatusOr<ShardFile> read = ReadShardFile(directory + "/" + file.path());
      ASSERT_TRUE(read.ok()) << read.status();
      rows_written += read->state.num_rows();
    }
    EXPECT_EQ(rows_written, kRows);
  }
  absl::StatusOr<std::unique_ptr<LocalCluster>> started =
      LocalCluster::Start(Options(2, checkpoints, true));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(ExpectClusterHolds(**started, directory, /*all_replicas=*/true),
            static_cast<int>(kShards * 2));
}

}  // namespace
}  // namespace ps::testing
