// Fuzz target: a snapshot (a ShardState frame) as a learner receives it from its primary, for the
// learner's (table, shard) the frame's header names (the dense table's shard 0 when it names none
// held). It goes three ways: whole through ReplicaSet::Install, and through a SnapshotSink (the
// learner thread's path: dense stores take it in place) in one chunk and in 7-byte chunks.
// Properties checked beyond "no crash":
//   - the three ways accept the same frames;
//   - an accepted snapshot leaves the same state whichever way it came;
//   - that state is a fixed point: sent on to another fresh learner, it reads back byte for byte.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/frame.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/parameter_server.pb.h"
#include "server/replica_set.h"
#include "server/snapshot_sink.h"
#include "tests/fuzz/replica_fixture.h"

namespace {

using ps::fuzz::kLearner;

struct Installed {
  std::unique_ptr<ps::ReplicaSet> set = ps::fuzz::MakeReplicaSet(kLearner);
  absl::Status status;
};

Installed Whole(uint32_t table, uint32_t shard, absl::string_view bytes) {
  Installed result;
  grpc::Slice slice(bytes.data(), bytes.size());
  ps::FinishedCallbacks finished;
  result.status = result.set->Install(table, shard, grpc::ByteBuffer(&slice, 1), &finished);
  for (auto& callback : finished) callback();
  return result;
}

Installed Sink(uint32_t table, uint32_t shard, absl::string_view bytes, size_t chunk) {
  Installed result;
  absl::StatusOr<std::shared_ptr<ps::TableShard>> learner = result.set->LearnerShard(table, shard);
  if (!learner.ok()) std::abort();
  ps::SnapshotSink sink(*learner);
  while (!bytes.empty() && result.status.ok()) {
    const size_t n = std::min(chunk, bytes.size());
    result.status = sink.Add(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  if (result.status.ok()) {
    ps::FinishedCallbacks finished;
    result.status = sink.Finish(&finished);
    for (auto& callback : finished) callback();
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  uint32_t table = ps::fuzz::kDenseTable;
  uint32_t shard = 0;
  {
    grpc::Slice slice(data, size);
    ps::v1::ShardState state;
    if (ps::FrameReader::Open(grpc::ByteBuffer(&slice, 1), &state).ok() &&
        (state.table_id() == ps::fuzz::kDenseTable || state.table_id() == ps::fuzz::kSparseTable) &&
        state.shard_id() < ps::fuzz::kNumShards) {
      table = state.table_id();
      shard = state.shard_id();
    }
  }
  const Installed whole = Whole(table, shard, bytes);
  const Installed one_chunk = Sink(table, shard, bytes, bytes.size() + 1);
  const Installed chunked = Sink(table, shard, bytes, 7);
  if (whole.status.ok() != one_chunk.status.ok() || whole.status.ok() != chunked.status.ok()) {
    std::abort();  // The learner's two paths disagree on what is a snapshot.
  }
  if (!whole.status.ok()) return 0;
  const absl::StatusOr<std::string> state = ps::fuzz::SnapshotBytes(*whole.set, table, shard);
  if (!state.ok()) std::abort();
  for (const Installed* other : {&one_chunk, &chunked}) {
    const absl::StatusOr<std::string> same = ps::fuzz::SnapshotBytes(*other->set, table, shard);
    if (!same.ok() || *same != *state) std::abort();
  }
  const Installed again = Whole(table, shard, *state);
  if (!again.status.ok()) std::abort();
  const absl::StatusOr<std::string> fixed = ps::fuzz::SnapshotBytes(*again.set, table, shard);
  if (!fixed.ok() || *fixed != *state) std::abort();
  return 0;
}
