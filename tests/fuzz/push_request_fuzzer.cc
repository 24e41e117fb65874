// Fuzz target: a Push frame (header PushRequest) as the server's data plane takes it: parsed
// (FrameReader::Open), then validated and applied all-or-nothing by the primary's
// ReplicaSet::ApplyPush, whose replication requests are delivered to the backup as its Replicate
// handler would take them (tests/fuzz/replica_fixture.h). Properties checked beyond "no crash",
// for every push the primary accepts:
//   - the frame is exactly as long as its slices say (4 + header + 8 * num_keys for sparse
//     slices + values.payload_bytes): nothing unread, nothing missing;
//   - one duplicate flag per slice, none set on a fresh shard;
//   - the backup accepts every entry the primary sent and ends bitwise equal to it on the push's
//     shards; the primary's other shards do not change;
//   - the same frame again is a duplicate (retry semantics) and changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/frame.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/parameter_server.pb.h"
#include "server/replica_set.h"
#include "tests/fuzz/replica_fixture.h"

namespace {

using ps::fuzz::kBackup;
using ps::fuzz::kNumShards;

absl::StatusOr<ps::ReplicaSet::PushOutcome> Apply(ps::ReplicaSet& set,
                                                  const ps::v1::PushRequest& header,
                                                  ps::FrameReader reader,
                                                  std::vector<ps::ReplicationRequest>* sent) {
  ps::RoutedError routed;
  absl::StatusOr<ps::ReplicaSet::PushOutcome> outcome = set.ApplyPush(
      header, reader,
      [&](std::vector<ps::ReplicationRequest> requests, const ps::ReplicaSet::PushOutcome&) {
        for (ps::ReplicationRequest& request : requests) sent->push_back(std::move(request));
      },
      &routed);
  if (outcome.ok() && reader.remaining() != 0) std::abort();  // Accepted bytes left unread.
  return outcome;
}

// Every (table, shard) state of `set`, as snapshot bytes.
std::vector<std::string> States(ps::ReplicaSet& set) {
  std::vector<std::string> states;
  for (uint32_t table : {ps::fuzz::kDenseTable, ps::fuzz::kSparseTable}) {
    for (uint32_t shard = 0; shard < kNumShards; ++shard) {
      absl::StatusOr<std::string> bytes = ps::fuzz::SnapshotBytes(set, table, shard);
      if (!bytes.ok()) std::abort();
      states.push_back(*std::move(bytes));
    }
  }
  return states;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  const grpc::ByteBuffer frame(&slice, 1);
  ps::v1::PushRequest header;
  absl::StatusOr<ps::FrameReader> reader = ps::FrameReader::Open(frame, &header);
  if (!reader.ok()) return 0;
  const size_t payload_bytes = reader->remaining();

  std::unique_ptr<ps::ReplicaSet> primary = ps::fuzz::MakeReplicaSet(ps::fuzz::kPrimary);
  std::unique_ptr<ps::ReplicaSet> backup = ps::fuzz::MakeReplicaSet(kBackup);
  const std::vector<std::string> before = States(*primary);
  std::vector<ps::ReplicationRequest> sent;
  absl::StatusOr<ps::ReplicaSet::PushOutcome> outcome = Apply(*primary, header, *reader, &sent);
  if (!outcome.ok()) {
    if (States(*primary) != before) std::abort();  // A refused push changed a shard.
    return 0;
  }

  // The frame's length is what its slices describe.
  uint64_t described = 0;
  for (const ps::v1::ShardSlice& s : header.slices()) {
    if (s.table_id() == ps::fuzz::kSparseTable) described += s.num_keys() * sizeof(uint64_t);
    described += s.values().payload_bytes();
  }
  if (described != payload_bytes) std::abort();
  if (outcome->answer.duplicates_size() != header.slices_size()) std::abort();
  for (bool duplicate : outcome->answer.duplicates()) {
    if (duplicate) std::abort();  // A fresh shard has applied nothing yet.
  }

  // The backup takes what the primary sent and holds the same state.
  for (const ps::ReplicationRequest& request : sent) {
    if (request.server_id != kBackup) std::abort();
    if (!ps::fuzz::Deliver(request, *backup).ok()) std::abort();
  }
  const std::vector<std::string> after = States(*primary);
  // The shards of the push are equal on both; the others are as they were (a backup takes up
  // the primary's term with its first entry, so their term fields may differ).
  const std::vector<std::string> backup_after = States(*backup);
  for (size_t i = 0; i < after.size(); ++i) {
    const uint32_t table = i < kNumShards ? ps::fuzz::kDenseTable : ps::fuzz::kSparseTable;
    const uint32_t shard = i % kNumShards;
    bool touched = false;
    for (const ps::v1::ShardSlice& s : header.slices()) {
      touched |= s.table_id() == table && s.shard_id() == shard;
    }
    if (touched ? backup_after[i] != after[i] : after[i] != before[i]) std::abort();
  }

  // A retry of the same push is acknowledged as a duplicate and applies nothing.
  std::vector<ps::ReplicationRequest> resent;
  absl::StatusOr<ps::FrameReader> again = ps::FrameReader::Open(frame, &header);
  absl::StatusOr<ps::ReplicaSet::PushOutcome> retried = Apply(*primary, header, *again, &resent);
  if (!retried.ok()) std::abort();
  if (header.slices_size() > 0 && !retried->answer.duplicate()) std::abort();
  if (States(*primary) != after) std::abort();
  for (const ps::ReplicationRequest& request : resent) {
    if (!ps::fuzz::Deliver(request, *backup).ok()) std::abort();
  }
  if (States(*backup) != backup_after) std::abort();
  return 0;
}
