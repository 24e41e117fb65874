// Fuzz target: a Replicate frame (header ReplicateRequest) as a backup takes it from its primary:
// parsed, its entries validated and bound to shards (ReplicaSet::TakeReplicate) and offered in
// log order (TableShard::OfferLocked), as the backup's Replicate handler does. Properties checked
// beyond "no crash":
//   - an accepted frame is read to its end (ReplicaSet refuses bytes beyond its entries);
//   - every entry is answered at most once;
//   - whatever state the entries leave, it travels as a snapshot: installed into a fresh learner
//     it is accepted, and the learner then holds the same bytes (the backup could be promoted
//     and feed learners from it).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/frame.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/parameter_server.pb.h"
#include "server/replica_set.h"
#include "tests/fuzz/replica_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  const grpc::ByteBuffer frame(&slice, 1);
  ps::v1::ReplicateRequest header;
  absl::StatusOr<ps::FrameReader> reader = ps::FrameReader::Open(frame, &header);
  if (!reader.ok()) return 0;

  std::unique_ptr<ps::ReplicaSet> backup = ps::fuzz::MakeReplicaSet(ps::fuzz::kBackup);
  {
    ps::FrameReader bound = *reader;
    absl::StatusOr<std::optional<ps::ReplicaSet::Offers>> offers =
        backup->TakeReplicate(header, bound);
    if (offers.ok() && offers->has_value() && bound.remaining() != 0) std::abort();
  }
  // Delivered for real (offers taken above are dropped unoffered, as a cancelled call's would be).
  ps::fuzz::DeliverFrame(frame, *backup).IgnoreError();

  std::unique_ptr<ps::ReplicaSet> learner = ps::fuzz::MakeReplicaSet(ps::fuzz::kLearner);
  for (uint32_t table : {ps::fuzz::kDenseTable, ps::fuzz::kSparseTable}) {
    for (uint32_t shard = 0; shard < ps::fuzz::kNumShards; ++shard) {
      absl::StatusOr<std::string> state = ps::fuzz::SnapshotBytes(*backup, table, shard);
      if (!state.ok()) std::abort();
      grpc::Slice bytes(state->data(), state->size());
      ps::FinishedCallbacks finished;
      if (!learner->Install(table, shard, grpc::ByteBuffer(&bytes, 1), &finished).ok()) {
        std::abort();  // A backup's state that no learner could take.
      }
      for (auto& callback : finished) callback();
      absl::StatusOr<std::string> installed = ps::fuzz::SnapshotBytes(*learner, table, shard);
      if (!installed.ok() || *installed != *state) std::abort();
    }
  }
  return 0;
}
