// The small cluster the data-plane fuzz targets (push, pull, replication, snapshots) run against,
// without a network: servers 1 (primary), 2 (backup) and 3 (learner) of two virtual shards, one
// live worker, and two tables: "dense" (10 values, Adam, ASP) and "sparse" (rows of 2, Adagrad,
// BSP). The seed tool (make_replica_seeds.cc) builds its inputs for the same map.
//
// Plain functions; each call builds fresh replica sets, so one input never affects the next.
#ifndef PS_TESTS_FUZZ_REPLICA_FIXTURE_H_
#define PS_TESTS_FUZZ_REPLICA_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/types.pb.h"
#include "server/replica_set.h"

namespace ps::fuzz {

inline constexpr uint32_t kPrimary = 1;
inline constexpr uint32_t kBackup = 2;
inline constexpr uint32_t kLearner = 3;
inline constexpr uint32_t kWorker = 7;
inline constexpr uint64_t kIncarnation = 70;
inline constexpr uint32_t kNumShards = 2;
inline constexpr uint64_t kEpoch = 3;
inline constexpr uint32_t kDenseTable = 1;
inline constexpr uint32_t kSparseTable = 2;
inline constexpr uint64_t kDenseSize = 10;
inline constexpr uint32_t kSparseDim = 2;

// The map every replica set of the fixture adopts.
const v1::ClusterMap& FuzzMap();

// A replica set that adopted FuzzMap() as server `self_id`.
std::unique_ptr<ReplicaSet> MakeReplicaSet(uint32_t self_id);

// The state of (table, shard) on `set` as an observer's snapshot frame (the bytes a learner
// would receive). Errors: those of ReplicaSet::TakeSnapshot.
absl::StatusOr<std::string> SnapshotBytes(ReplicaSet& set, uint32_t table_id, uint32_t shard_id);

// Hands `request` to `set` as its Replicate handler would (TakeReplicate, then every offer under
// its shard's lock), and returns the first error: of the request, or of an entry (whose `done`
// was called). Aborts if an entry's `done` is called twice.
absl::Status Deliver(const ReplicationRequest& request, ReplicaSet& set);
absl::Status DeliverFrame(const grpc::ByteBuffer& frame, ReplicaSet& set);

// The bytes of a gRPC byte buffer, concatenated.
std::string Flatten(const grpc::ByteBuffer& buffer);

}  // namespace ps::fuzz

#endif  // PS_TESTS_FUZZ_REPLICA_FIXTURE_H_
