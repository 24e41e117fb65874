// ReplicaSet without a network: maps built by hand, replication requests handed from one set to
// another as the Replicator would send them.
#include "server/replica_set.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/file_damage.h"
#include "common/checkpoint/shard_file.h"
#include "common/partition.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

constexpr uint64_t kDenseSize = 40;
constexpr uint32_t kWorker = 7;
constexpr uint64_t kIncarnation = 70;

v1::TableInfo DenseTable(v1::ConsistencySpec::Model model) {
  v1::TableInfo table;
  table.set_table_id(1);
  v1::TableSpec& spec = *table.mutable_spec();
  spec.set_name("dense");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(kDenseSize);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAM);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_optimizer()->set_beta1(0.9f);
  spec.mutable_optimizer()->set_beta2(0.999f);
  spec.mutable_optimizer()->set_epsilon(1e-8f);
  spec.mutable_consistency()->set_model(model);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_ZEROS);
  return table;
}

// A map of servers 1..3 with `chains` (replicas, primary first) and `learners` per shard, each
// learner assigned at `learner_epoch` (0: at `epoch`).
v1::ClusterMap Map(uint64_t epoch, const std::vector<std::vector<uint32_t>>& chains,
                   const std::vector<std::vector<uint32_t>>& learners, const v1::TableInfo& table,
                   uint64_t learner_epoch = 0) {
  v1::ClusterMap map;
  map.set_epoch(epoch);
  map.set_num_shards(chains.size());
  map.set_replication_factor(2);
  map.set_catalog_version(1);
  map.set_membership_version(1);
  for (uint32_t id = 1; id <= 3; ++id) {
    v1::ServerInfo* server = map.add_servers();
    server->set_server_id(id);
    server->set_address("10.0.0." + std::to_string(id) + ":7000");
    server->set_state(v1::MEMBER_STATE_ALIVE);
  }
  v1::WorkerInfo* worker = map.add_workers();
  worker->set_worker_id(kWorker);
  worker->set_incarnation(kIncarnation);
  worker->set_state(v1::MEMBER_STATE_ALIVE);
  for (size_t shard = 0; shard < chains.size(); ++shard) {
    v1::ShardAssignment* assignment = map.add_shards();
    assignment->set_shard_id(shard);
    for (uint32_t server : chains[shard]) assignment->add_replicas(server);
    if (shard < learners.size()) {
      for (uint32_t server : learners[shard]) {
        assignment->add_learners(server);
        assignment->add_learner_epochs(learner_epoch != 0 ? learner_epoch : epoch);
      }
    }
  }
  *map.add_tables() = table;
  return map;
}

// A push of `value` to every shard in `shards` (dense, F32), as a frame; shard `bad_shard`'s
// slice claims one element too few.
struct PushFrame {
  v1::PushRequest header;
  grpc::ByteBuffer frame;
};
PushFrame Push(const v1::ClusterMap& map, uint64_t seq, uint64_t clock,
               const std::vector<uint32_t>& shards, float value, int bad_shard = -1) {
  PushFrame push;
  push.header.set_epoch(map.epoch());
  push.header.set_catalog_version(map.catalog_version());
  push.header.set_membership_version(map.membership_version());
  push.header.set_worker_id(kWorker);
  push.header.set_incarnation(kIncarnation);
  push.header.set_seq(seq);
  push.header.set_clock(clock);
  std::string payload;
  for (uint32_t shard : shards) {
    const uint64_t size = DenseShardRange(kDenseSize, map.num_shards(), shard).size();
    const uint64_t claimed = static_cast<int>(shard) == bad_shard ? size - 1 : size;
    v1::ShardSlice* slice = push.header.add_slices();
    slice->set_table_id(1);
    slice->set_shard_id(shard);
    slice->mutable_values()->set_encoding(v1::ENCODING_F32);
    slice->mutable_values()->set_num_elements(claimed);
    slice->mutable_values()->set_payload_bytes(claimed * sizeof(float));
    const std::vector<float> values(size, value);
    payload.append(reinterpret_cast<const char*>(values.data()), size * sizeof(float));
  }
  grpc::Slice bytes(payload.data(), payload.size());
  push.frame = MakeFrame(push.header, {bytes});
  return push;
}

// Applies `push` on `set`; the replication requests it sends are appended to `sent`.
absl::StatusOr<ReplicaSet::PushOutcome> Apply(ReplicaSet& set, const PushFrame& push,
                                              std::vector<ReplicationRequest>* sent) {
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(push.frame, &header);
  if (!reader.ok()) return reader.status();
  RoutedError routed;
  return set.ApplyPush(
      header, *reader,
      [&](std::vector<ReplicationRequest> requests, const ReplicaSet::PushOutcome&) {
        for (ReplicationRequest& request : requests) sent->push_back(std::move(request));
      },
      &routed);
}

// Delivers the requests addressed to `target` to `set`; returns the entries' statuses.
std::vector<absl::Status> Deliver(const std::vector<ReplicationRequest>& sent, uint32_t target,
                                  ReplicaSet& set) {
  std::vector<absl::Status> statuses;
  for (const ReplicationRequest& request : sent) {
    if (request.server_id != target) continue;
    v1::ReplicateRequest header;
    absl::StatusOr<FrameReader> reader =
        FrameReader::Open(MakeFrame(request.header, request.payload), &header);
    EXPECT_TRUE(reader.ok()) << reader.status();
    absl::StatusOr<std::optional<ReplicaSet::Offers>> offers = set.TakeReplicate(header, *reader);
    if (!offers.ok()) {
      statuses.push_back(offers.status());
      continue;
    }
    EXPECT_TRUE(offers->has_value()) << "the receiver's map is current";
    for (auto& [shard, offered] : **offers) {
      offered.done = [&statuses](const absl::Status& status) { statuses.push_back(status); };
      FinishedCallbacks finished;
      {
        absl::MutexLock lock(&shard->mu());
        shard->OfferLocked(std::move(offered), &finished);
      }
      for (auto& callback : finished) callback();
    }
  }
  return statuses;
}

// (table, shard) -> (log index, state checksum) of every replica `set` holds.
std::map<std::pair<uint32_t, uint32_t>, std::pair<uint64_t, uint32_t>> States(
    const ReplicaSet& set) {
  std::map<std::pair<uint32_t, uint32_t>, std::pair<uint64_t, uint32_t>> states;
  const v1::DescribeShardsResponse described = set.Describe();
  for (const v1::ShardReplicaInfo& info : described.replicas()) {
    states[{info.table_id(), info.shard_id()}] = {info.log_index(), info.state_crc32()};
  }
  return states;
}

TEST(ReplicaSetTest, APushWithOneBadSliceChangesNoShard) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_BSP);
  const v1::ClusterMap map = Map(3, {{1}, {1}}, {}, table);
  ReplicaSet set;
  ASSERT_TRUE(set.AdoptMap(map, 1).adopted);
  const auto before = States(set);
  std::vector<ReplicationRequest> sent;
  EXPECT_EQ(Apply(set, Push(map, 1, 0, {0, 1}, 1.0f, /*bad_shard=*/1), &sent).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(States(set), before) << "a malformed slice: neither shard changed";

  // Shard 1 alone takes clock 0 from the worker; a push of clock 0 to both shards is then refused
  // by shard 1's consistency clock, after shard 0 admitted it: shard 0 must not change either.
  ASSERT_TRUE(Apply(set, Push(map, 1, 0, {1}, 1.0f), &sent).ok());
  const auto after_first = States(set);
  absl::StatusOr<ReplicaSet::PushOutcome> refused = Apply(set, Push(map, 2, 0, {0, 1}, 2.0f), &sent);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(States(set), after_first) << "refused by one shard: applied on none";
  EXPECT_TRUE(sent.empty()) << "R = 1: nothing to replicate";
}

// Found by replicate_fuzzer: a shard id of 2^31 or more became a negative index into the map's
// shards (a read out of bounds, and a crash) on a backup taking a Replicate entry and on a
// primary asked for a snapshot.
TEST(ReplicaSetTest, HugeShardIdsAreRefusedNotIndexed) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  const v1::ClusterMap map = Map(3, {{1, 2}}, {}, table);
  ReplicaSet backup;
  ASSERT_TRUE(backup.AdoptMap(map, 2).adopted);
  for (const uint32_t shard : {uint32_t{1} << 31, ~uint32_t{0}}) {
    v1::ReplicateRequest header;
    header.set_epoch(3);
    header.set_primary_id(1);
    header.set_catalog_version(1);
    v1::LogEntry* entry = header.add_entries();
    entry->set_table_id(1);
    entry->set_shard_id(shard);
    entry->set_log_index(1);
    entry->add_completions()->set_clock(0);
    v1::ReplicateRequest parsed;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(header, {}), &parsed);
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ(backup.TakeReplicate(parsed, *reader).status().code(), absl::StatusCode::kAborted)
        << shard;
    v1::FetchShardSnapshotRequest fetch;
    fetch.set_table_id(1);
    fetch.set_shard_id(shard);
    EXPECT_EQ(backup.TakeSnapshot(fetch).status().code(), absl::StatusCode::kNotFound) << shard;
  }
}

TEST(ReplicaSetTest, RoutingErrorsNameTheEpochToRefreshTo) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  // Epoch 5 made server 2 the primary: a push routed to server 1 with epoch 4 goes back.
  ReplicaSet deposed;
  ASSERT_TRUE(deposed.AdoptMap(Map(5, {{2, 1}}, {}, table), 1).adopted);
  const PushFrame stale = Push(Map(4, {{1, 2}}, {}, table), 1, 0, {0}, 1.0f);
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(stale.frame, &header);
  ASSERT_TRUE(reader.ok());
  RoutedError routed;
  absl::StatusOr<ReplicaSet::PushOutcome> outcome = deposed.ApplyPush(
      header, *reader, [](std::vector<ReplicationRequest>, const ReplicaSet::PushOutcome&) {},
      &routed);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(routed.refresh_epoch, 5u);
  // Where epoch 5 still makes server 1 the primary, the same push is served: map changes that
  // moved other shards cost it nothing.
  ReplicaSet set;
  ASSERT_TRUE(set.AdoptMap(Map(5, {{1, 2}}, {}, table), 1).adopted);
  reader = FrameReader::Open(stale.frame, &header);
  ASSERT_TRUE(reader.ok());
  routed = RoutedError();
  outcome =
      set.ApplyPush(header, *reader,
                    [](std::vector<ReplicationRequest>, const ReplicaSet::PushOutcome&) {}, &routed);
  EXPECT_TRUE(outcome.ok()) << outcome.status();
  // A request from a newer map than this server's: retry later, no epoch to refresh to.
  const PushFrame ahead = Push(Map(9, {{1, 2}}, {}, table), 1, 0, {0}, 1.0f);
  reader = FrameReader::Open(ahead.frame, &header);
  ASSERT_TRUE(reader.ok());
  routed = RoutedError();
  outcome =
      set.ApplyPush(header, *reader,
                    [](std::vector<ReplicationRequest>, const ReplicaSet::PushOutcome&) {}, &routed);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(routed.refresh_epoch, 0u);
}

TEST(ReplicaSetTest, APromotedBackupHoldsEveryAcknowledgedPushAndDedupesItsRetry) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  const v1::ClusterMap placed = Map(3, {{1, 2}}, {}, table);
  ReplicaSet primary, backup;
  ASSERT_TRUE(primary.AdoptMap(placed, 1).adopted);
  ASSERT_TRUE(backup.AdoptMap(placed, 2).adopted);
  std::vector<ReplicationRequest> sent;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(Apply(primary, Push(placed, seq, 0, {0}, 0.5f * seq), &sent).ok());
  }
  ASSERT_EQ(sent.size(), 3u);
  // Delivered out of order: the backup applies them in log order.
  std::swap(sent[0], sent[2]);
  for (const absl::Status& status : Deliver(sent, 2, backup)) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(States(backup), States(primary)) << "bitwise equal: values, Adam moments, dedupe";

  // Server 1 dies; server 2 is promoted at epoch 4 and server 3 learns the shard.
  const v1::ClusterMap promoted = Map(4, {{2}}, {{3}}, table);
  ASSERT_TRUE(backup.AdoptMap(promoted, 2).adopted);
  sent.clear();
  absl::StatusOr<ReplicaSet::PushOutcome> retried = Apply(backup, Push(promoted, 3, 0, {0}, 1.5f), &sent);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->answer.duplicate()) << "the retried push was acknowledged before: not again";
  ASSERT_EQ(retried->answer.duplicates_size(), 1);
  EXPECT_TRUE(retried->answer.duplicates(0));
  const auto unchanged = States(backup);
  absl::StatusOr<ReplicaSet::PushOutcome> next = Apply(backup, Push(promoted, 4, 0, {0}, 1.0f), &sent);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->answer.duplicate());
  EXPECT_EQ(States(backup).begin()->second.first, unchanged.begin()->second.first + 1)
      << "the new primary continues the log";
  EXPECT_TRUE(sent.empty()) << "the learner has not fetched its snapshot: nothing forwarded yet";
}

TEST(ReplicaSetTest, ALearnerCopiesTheSnapshotReceivesLaterEntriesAndCatchesUp) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_BSP);
  const v1::ClusterMap map = Map(6, {{1}, {1}}, {{3}, {}}, table);
  ReplicaSet primary, learner;
  ASSERT_TRUE(primary.AdoptMap(map, 1).adopted);
  ASSERT_TRUE(learner.AdoptMap(map, 3).adopted);
  std::vector<ReplicationRequest> sent;
  ASSERT_TRUE(Apply(primary, Push(map, 1, 0, {0, 1}, 0.25f), &sent).ok());
  EXPECT_TRUE(sent.empty()) << "before its snapshot the learner gets nothing";

  const std::vector<ReplicaSet::SnapshotToFetch> work = learner.SnapshotsToFetch();
  ASSERT_EQ(work.size(), 1u);
  EXPECT_EQ(work[0].shard_id, 0u);
  EXPECT_EQ(work[0].primary, 1u);
  EXPECT_EQ(work[0].primary_address, "10.0.0.1:7000");
  uint64_t catalog_version = 0;
  EXPECT_TRUE(learner.CaughtUpShards(&catalog_version).empty());

  v1::FetchShardSnapshotRequest request;
  request.set_epoch(6);
  request.set_table_id(1);
  request.set_shard_id(0);
  request.set_requester_id(3);
  absl::StatusOr<ReplicaSet::Snapshot> snapshot = primary.TakeSnapshot(request);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // Pushes after the snapshot are forwarded to the learner.
  ASSERT_TRUE(Apply(primary, Push(map, 2, 1, {0, 1}, 0.75f), &sent).ok());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].server_id, 3u);
  for (const absl::Status& status : Deliver(sent, 3, learner)) EXPECT_TRUE(status.ok()) << status;
  FinishedCallbacks finished;
  ASSERT_TRUE(learner
                  .Install(1, 0,
                           grpc::ByteBuffer(snapshot->frame.data(), snapshot->frame.size()),
                           &finished)
                  .ok());
  for (auto& callback : finished) callback();
  EXPECT_EQ(States(learner).at({1, 0}), States(primary).at({1, 0}))
      << "snapshot plus the entry forwarded meanwhile: equal to the primary";
  EXPECT_EQ(learner.CaughtUpShards(&catalog_version), (std::vector<uint32_t>{0}));
  EXPECT_EQ(catalog_version, 1u);
  EXPECT_TRUE(learner.SnapshotsToFetch().empty());

  // A server that is not a learner of the shard gets no snapshot.
  request.set_requester_id(2);
  EXPECT_EQ(primary.TakeSnapshot(request).status().code(), absl::StatusCode::kAborted);
}

TEST(ReplicaSetTest, ReplicationFromANonPrimaryOrANewerMapIsNotTaken) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  ReplicaSet backup;
  ASSERT_TRUE(backup.AdoptMap(Map(3, {{1, 2}}, {}, table), 2).adopted);
  v1::ReplicateRequest request;
  request.set_epoch(3);
  request.set_catalog_version(1);
  request.set_primary_id(3);
  v1::LogEntry* entry = request.add_entries();
  entry->set_table_id(1);
  entry->set_shard_id(0);
  entry->set_log_index(1);
  entry->set_barrier(true);
  v1::ReplicateRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(request, {}), &header);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(backup.TakeReplicate(header, *reader).status().code(), absl::StatusCode::kAborted);
  request.set_primary_id(1);
  request.set_epoch(4);
  reader = FrameReader::Open(MakeFrame(request, {}), &header);
  absl::StatusOr<std::optional<ReplicaSet::Offers>> later = backup.TakeReplicate(header, *reader);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_FALSE(later->has_value()) << "a newer map than the backup's: wait for it";
}

TEST(ReplicaSetTest, EntriesOfAShardMovedOffSinceTheSendersMapAreSkippedNotRefused) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  ReplicaSet backup;
  ASSERT_TRUE(backup.AdoptMap(Map(5, {{1, 2}, {1, 2}}, {}, table), 2).adopted);
  // Epoch 6 moved shard 0 from server 2 to server 3.
  ASSERT_TRUE(backup.AdoptMap(Map(6, {{1, 3}, {1, 2}}, {}, table), 2).adopted);
  v1::ReplicateRequest request;
  request.set_epoch(5);
  request.set_catalog_version(1);
  request.set_primary_id(1);
  // A push for shard 0 (its payload in the frame), then a barrier for shard 1.
  v1::LogEntry* push = request.add_entries();
  push->set_table_id(table.table_id());
  push->set_shard_id(0);
  push->set_log_index(1);
  v1::ShardSlice* slice = push->mutable_slice();
  slice->set_table_id(table.table_id());
  slice->set_shard_id(0);
  slice->mutable_values()->set_encoding(v1::ENCODING_F32);
  slice->mutable_values()->set_num_elements(3);
  slice->mutable_values()->set_payload_bytes(3 * sizeof(float));
  push->set_has_push(true);
  push->set_worker_id(kWorker);
  v1::LogEntry* barrier = request.add_entries();
  barrier->set_table_id(table.table_id());
  barrier->set_shard_id(1);
  barrier->set_log_index(1);
  barrier->set_barrier(true);
  const float gradient[3] = {1, 2, 3};
  const grpc::Slice payload(gradient, sizeof(gradient));
  v1::ReplicateRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(request, {payload}), &header);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::optional<ReplicaSet::Offers>> offers = backup.TakeReplicate(header, *reader);
  ASSERT_TRUE(offers.ok()) << offers.status();
  ASSERT_TRUE(offers->has_value());
  ASSERT_EQ((*offers)->size(), 1u) << "only the shard still held here is offered";
  EXPECT_EQ((*offers)->at(0).second.entry.shard_id(), 1u);
  // Routed with the current map, an entry for a shard not held here is still an error.
  request.set_epoch(6);
  reader = FrameReader::Open(MakeFrame(request, {payload}), &header);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(backup.TakeReplicate(header, *reader).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ReplicaSetTest, AReplicaThatFailedIsResolvedOnceOutOrReassignedAsAFreshLearner) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  ReplicaSet primary;
  ASSERT_TRUE(primary.AdoptMap(Map(5, {{1, 2, 3}}, {}, table), 1).adopted);
  const std::vector<ReplicationResult> failed = {{3, {0}, absl::UnavailableError("gone")}};
  EXPECT_EQ(primary.Resolve({0}, failed, 5), ReplicaSet::Resolution::kWaiting)
      << "still a backup: it lacks the push";
  ASSERT_TRUE(primary.AdoptMap(Map(6, {{1, 2}}, {{3}}, table), 1).adopted);
  EXPECT_EQ(primary.Resolve({0}, failed, 5), ReplicaSet::Resolution::kAcknowledge)
      << "made a learner after the push: its snapshot will hold it";
  EXPECT_EQ(primary.Resolve({0}, failed, 6), ReplicaSet::Resolution::kWaiting)
      << "a learner that failed a push sent at its own epoch is the same copy";
  ASSERT_TRUE(primary.AdoptMap(Map(7, {{1, 2}}, {}, table), 1).adopted);
  EXPECT_EQ(primary.Resolve({0}, failed, 6), ReplicaSet::Resolution::kAcknowledge);
  ASSERT_TRUE(primary.AdoptMap(Map(8, {{2, 1}}, {}, table), 1).adopted);
  EXPECT_EQ(primary.Resolve({0}, failed, 6), ReplicaSet::Resolution::kDeposed);
}

TEST(ReplicaSetTest, ALearnerReassignedWithANewerEpochStartsAfresh) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  const v1::ClusterMap first = Map(6, {{1}}, {{3}}, table);
  ReplicaSet primary, learner;
  ASSERT_TRUE(primary.AdoptMap(first, 1).adopted);
  ASSERT_TRUE(learner.AdoptMap(first, 3).adopted);
  std::vector<ReplicationRequest> sent;
  ASSERT_TRUE(Apply(primary, Push(first, 1, 0, {0}, 1.0f), &sent).ok());
  v1::FetchShardSnapshotRequest request;
  request.set_epoch(6);
  request.set_table_id(1);
  request.set_requester_id(3);
  absl::StatusOr<ReplicaSet::Snapshot> snapshot = primary.TakeSnapshot(request);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  FinishedCallbacks finished;
  ASSERT_TRUE(learner
                  .Install(1, 0, grpc::ByteBuffer(snapshot->frame.data(), snapshot->frame.size()),
                           &finished)
                  .ok());
  EXPECT_TRUE(learner.SnapshotsToFetch().empty());
  // The same server, learner again at a later epoch (its copy failed): it must copy again.
  ASSERT_TRUE(learner.AdoptMap(Map(8, {{1}}, {{3}}, table, /*learner_epoch=*/8), 3).adopted);
  EXPECT_EQ(learner.SnapshotsToFetch().size(), 1u);
  uint64_t catalog_version = 0;
  EXPECT_TRUE(learner.CaughtUpShards(&catalog_version).empty());
  // A later map that keeps the assignment keeps the copy.
  ASSERT_TRUE(primary.AdoptMap(Map(8, {{1}}, {{3}}, table, 8), 1).adopted);
  request.set_epoch(8);
  snapshot = primary.TakeSnapshot(request);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_TRUE(learner
                  .Install(1, 0, grpc::ByteBuffer(snapshot->frame.data(), snapshot->frame.size()),
                           &finished)
                  .ok());
  ASSERT_TRUE(learner.AdoptMap(Map(9, {{1}}, {{3}}, table, 8), 3).adopted);
  EXPECT_TRUE(learner.SnapshotsToFetch().empty());
}

TEST(ReplicaSetRestoreTest, FreshReplicasLoadTheirShardFilesAndADamagedOneIsNotServed) {
  const v1::TableInfo table = DenseTable(v1::ConsistencySpec::MODEL_ASP);
  // A primary with some state, whose shards are written as a checkpoint would write them.
  ReplicaSet source;
  const v1::ClusterMap before = Map(2, {{1, 2}, {1, 2}}, {}, table);
  source.AdoptMap(before, 1);
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/restore";
  std::filesystem::create_directories(dir);
  for (const std::shared_ptr<TableShard>& shard : source.LedShards()) {
    v1::ShardState state;
    std::vector<grpc::Slice> payload;
    ASSERT_TRUE(shard->CaptureForCheckpoint(std::nullopt, absl::Now(), &state, &payload).ok());
    state.set_log_index(9);  // A position the fresh replica must take over.
    ASSERT_TRUE(
        WriteShardFile(dir + "/" + ShardFileName(1, state.shard_id()), state, payload).ok());
  }
  // Shard 1's file is damaged after the coordinator checked it.
  ASSERT_TRUE(FlipByte(dir + "/" + ShardFileName(1, 1), 60));
  v1::ClusterMap restored = Map(5, {{2, 1}, {2, 1}}, {}, table);
  restored.mutable_restore()->set_directory(dir);
  restored.mutable_restore()->set_checkpoint_id(1);
  restored.mutable_restore()->add_table_ids(1);
  for (uint32_t self : {1u, 2u}) {
    ReplicaSet set;
    set.AdoptMap(restored, self);
    const v1::DescribeShardsResponse described = set.Describe();
    ASSERT_EQ(described.replicas_size(), 1) << "shard 1 is not served: " << self;
    EXPECT_EQ(described.replicas(0).shard_id(), 0u);
    EXPECT_EQ(described.replicas(0).log_index(), 9u);
    EXPECT_EQ(described.replicas(0).role(), self == 2 ? v1::ShardReplicaInfo::ROLE_PRIMARY
                                                      : v1::ShardReplicaInfo::ROLE_BACKUP);
  }
}

}  // namespace
}  // namespace ps
