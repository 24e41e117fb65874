#include "tests/fuzz/replica_fixture.h"

#include <cstdlib>
#include <optional>
#include <utility>

#include "common/frame.h"

namespace ps::fuzz {
namespace {

v1::TableInfo Table(uint32_t id, const char* name, v1::TableKind kind,
                    v1::OptimizerSpec::Kind optimizer, v1::ConsistencySpec::Model model) {
  v1::TableInfo table;
  table.set_table_id(id);
  v1::TableSpec& spec = *table.mutable_spec();
  spec.set_name(name);
  spec.set_kind(kind);
  if (kind == v1::TABLE_KIND_DENSE) {
    spec.set_dense_size(kDenseSize);
  } else {
    spec.set_sparse_dim(kSparseDim);
  }
  spec.mutable_optimizer()->set_kind(optimizer);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_optimizer()->set_beta1(0.9f);
  spec.mutable_optimizer()->set_beta2(0.999f);
  spec.mutable_optimizer()->set_epsilon(1e-8f);
  spec.mutable_consistency()->set_model(model);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_CONSTANT);
  spec.mutable_initializer()->set_value(0.25f);
  return table;
}

v1::ClusterMap BuildMap() {
  v1::ClusterMap map;
  map.set_epoch(kEpoch);
  map.set_num_shards(kNumShards);
  map.set_replication_factor(2);
  map.set_catalog_version(1);
  map.set_membership_version(1);
  for (uint32_t id = kPrimary; id <= kLearner; ++id) {
    v1::ServerInfo* server = map.add_servers();
    server->set_server_id(id);
    server->set_address("10.0.0." + std::to_string(id) + ":7000");
    server->set_state(v1::MEMBER_STATE_ALIVE);
  }
  v1::WorkerInfo* worker = map.add_workers();
  worker->set_worker_id(kWorker);
  worker->set_incarnation(kIncarnation);
  worker->set_state(v1::MEMBER_STATE_ALIVE);
  for (uint32_t shard = 0; shard < kNumShards; ++shard) {
    v1::ShardAssignment* assignment = map.add_shards();
    assignment->set_shard_id(shard);
    assignment->add_replicas(kPrimary);
    assignment->add_replicas(kBackup);
    assignment->add_learners(kLearner);
    assignment->add_learner_epochs(kEpoch);
  }
  *map.add_tables() = Table(kDenseTable, "dense", v1::TABLE_KIND_DENSE,
                            v1::OptimizerSpec::KIND_ADAM, v1::ConsistencySpec::MODEL_ASP);
  *map.add_tables() = Table(kSparseTable, "sparse", v1::TABLE_KIND_SPARSE,
                            v1::OptimizerSpec::KIND_ADAGRAD, v1::ConsistencySpec::MODEL_BSP);
  return map;
}

}  // namespace

const v1::ClusterMap& FuzzMap() {
  static const v1::ClusterMap* const map = new v1::ClusterMap(BuildMap());
  return *map;
}

std::unique_ptr<ReplicaSet> MakeReplicaSet(uint32_t self_id) {
  auto set = std::make_unique<ReplicaSet>();
  if (!set->AdoptMap(FuzzMap(), self_id).adopted) std::abort();
  return set;
}

absl::StatusOr<std::string> SnapshotBytes(ReplicaSet& set, uint32_t table_id, uint32_t shard_id) {
  v1::FetchShardSnapshotRequest request;
  request.set_table_id(table_id);
  request.set_shard_id(shard_id);
  request.set_epoch(kEpoch);
  absl::StatusOr<ReplicaSet::Snapshot> snapshot = set.TakeSnapshot(request);
  if (!snapshot.ok()) return snapshot.status();
  std::string bytes;
  for (const grpc::Slice& slice : snapshot->frame) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

absl::Status DeliverFrame(const grpc::ByteBuffer& frame, ReplicaSet& set) {
  v1::ReplicateRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<ReplicaSet::Offers>> offers = set.TakeReplicate(header, *reader);
  if (!offers.ok()) return offers.status();
  if (!offers->has_value()) return absl::UnavailableError("the map is behind the request's");
  absl::Status first;
  for (auto& [shard, offered] : **offers) {
    auto calls = std::make_shared<int>(0);
    offered.done = [calls, &first](const absl::Status& status) {
      if (++*calls > 1) std::abort();  // Each entry is answered once.
      if (first.ok()) first = status;
    };
    FinishedCallbacks finished;
    {
      absl::MutexLock lock(&shard->mu());
      shard->OfferLocked(std::move(offered), &finished);
    }
    for (auto& callback : finished) callback();
  }
  return first;
}

absl::Status Deliver(const ReplicationRequest& request, ReplicaSet& set) {
  return DeliverFrame(MakeFrame(request.header, request.payload), set);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) std::abort();
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

}  // namespace ps::fuzz
