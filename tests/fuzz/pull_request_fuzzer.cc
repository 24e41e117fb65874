// Fuzz target: a Pull frame (header PullRequest), or with a leading 'P' byte a PushPull frame
// (header PushPullRequest), as the server's data plane takes it: parsed, the pull's answer
// encoding checked (PullAnswerEncoding), a PushPull's pull keys split off (SplitPullKeys), the
// slices bound and their keys checked by the primary's ReplicaSet::BindPull. An accepted pull is
// then answered as the server answers it (TableShard::Read per part, framed) and the answer read
// by the client (ScatterPullResponse), closing the loop. Properties checked beyond "no crash", for
// every pull the server accepts:
//   - dense parts carry no keys; sparse parts exactly num_keys keys, each of the slice's shard;
//   - the pull frame's keys are all read (a Pull's frame holds nothing else);
//   - the client accepts the server's answer and reads exactly the values the shards hold
//     (bitwise for F32), one per element the request's slices cover.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/codec/decoder.h"
#include "common/frame.h"
#include "common/partition.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/parameter_server.pb.h"
#include "server/replica_set.h"
#include "tests/fuzz/replica_fixture.h"
#include "worker/client/operation.h"
#include "worker/client/pull_scatter.h"

namespace {

constexpr uint8_t kPushPullMarker = 'P';

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool push_pull = size > 0 && data[0] == kPushPullMarker;
  if (push_pull) {
    ++data;
    --size;
  }
  grpc::Slice slice(data, size);
  const grpc::ByteBuffer frame(&slice, 1);
  ps::v1::PullRequest header;
  absl::StatusOr<ps::FrameReader> reader;
  ps::FrameReader* keys = nullptr;
  absl::StatusOr<ps::FrameReader> split;
  if (push_pull) {
    ps::v1::PushPullRequest fused;
    reader = ps::FrameReader::Open(frame, &fused);
    if (!reader.ok()) return 0;
    header = fused.pull();
    const size_t before = reader->remaining();
    split = ps::SplitPullKeys(header, *reader);
    if (!split.ok()) {
      if (reader->remaining() != before) std::abort();  // A refused split consumed bytes.
      return 0;
    }
    if (before - reader->remaining() != split->remaining()) std::abort();
    keys = &*split;
  } else {
    reader = ps::FrameReader::Open(frame, &header);
    if (!reader.ok()) return 0;
    keys = &*reader;
  }
  absl::StatusOr<ps::v1::Encoding> encoding = ps::PullAnswerEncoding(header);
  if (!encoding.ok()) return 0;
  if (*encoding != ps::v1::ENCODING_F32 && *encoding != ps::v1::ENCODING_F16) std::abort();

  std::unique_ptr<ps::ReplicaSet> primary = ps::fuzz::MakeReplicaSet(ps::fuzz::kPrimary);
  ps::RoutedError routed;
  absl::StatusOr<std::vector<ps::ReplicaSet::PullPart>> parts =
      primary->BindPull(header, *keys, &routed);
  if (!parts.ok()) return 0;
  if (keys->remaining() != 0) std::abort();
  if (parts->size() != static_cast<size_t>(header.slices_size())) std::abort();
  for (const ps::ReplicaSet::PullPart& part : *parts) {
    const ps::v1::ShardSlice& s = part.slice;
    if (part.shard->store().shard_id() != s.shard_id() ||
        part.shard->store().table().table_id() != s.table_id()) {
      std::abort();
    }
    if (s.table_id() == ps::fuzz::kDenseTable) {
      if (s.num_keys() != 0 || !part.keys.empty()) std::abort();
    } else {
      if (part.keys.size() != s.num_keys()) std::abort();
      for (uint64_t key : part.keys) {
        if (ps::SparseShardOf(key, ps::fuzz::kNumShards) != s.shard_id()) std::abort();
      }
    }
  }

  // Answered as the server answers (DataPlaneService's PullCall::Respond), read as the client
  // reads. One table per client operation: each part is scattered on its own.
  for (const ps::ReplicaSet::PullPart& part : *parts) {
    ps::v1::PullResponse answer;
    ps::v1::ShardSlice* answered = answer.add_slices();
    answered->set_table_id(part.slice.table_id());
    answered->set_shard_id(part.slice.shard_id());
    answered->set_num_keys(part.keys.size());
    uint64_t clock = 0;
    const grpc::Slice values =
        part.shard->Read(part.keys, *encoding, answered->mutable_values(), &clock);
    answer.add_shard_clocks(clock);
    const uint64_t expected =
        part.slice.table_id() == ps::fuzz::kDenseTable
            ? ps::DenseShardRange(ps::fuzz::kDenseSize, ps::fuzz::kNumShards,
                                  part.slice.shard_id())
                  .size()
            : part.keys.size() * ps::fuzz::kSparseDim;
    if (answered->values().num_elements() != expected) std::abort();

    ps::ShardPart client;
    client.shard_id = part.slice.shard_id();
    client.num_keys = part.keys.size();
    client.num_values = expected;
    std::vector<float> out(expected + 1, -1.0f);  // One past the end, to see it untouched.
    client.out = out.data();
    std::vector<ps::ShardPart*> client_parts = {&client};
    ps::Traffic traffic;
    absl::Duration parked;
    uint64_t max_clock = 0;
    uint64_t min_clock = 0;
    if (!ps::ScatterPullResponse(ps::MakeFrame(answer, {values}), client_parts, ps::fuzz::kSparseDim,
                                 *encoding, &traffic, &parked, &max_clock, &min_clock)
             .ok()) {
      std::abort();
    }
    if (traffic.bytes != values.size() || max_clock != clock || min_clock != clock) std::abort();
    if (out[expected] != -1.0f) std::abort();  // Wrote past the part's values.
    if (*encoding == ps::v1::ENCODING_F32 &&
        (values.size() != expected * sizeof(float) ||
         std::memcmp(out.data(), values.begin(), values.size()) != 0)) {
      std::abort();
    }
  }
  return 0;
}
