// Fuzz target: a server's answer to a pull as the client reads it (worker/client/pull_scatter.h):
// the first input byte picks the answer's kind (bit 0: F16 rather than F32; bit 1: a PushPull's
// answer, header PushPullResponse, rather than a Pull's), the rest is the frame. The request it
// answers is fixed: a dense part of 5 values and a sparse part of 3 rows of 2 scattered to rows
// 2, 0, 1. Properties checked beyond "no crash", for every answer the client accepts: nothing is
// written outside the parts' destinations, and the payload it counts is exactly the 11 values in
// the chosen encoding.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/types.pb.h"
#include "worker/client/operation.h"
#include "worker/client/pull_scatter.h"

namespace {

constexpr size_t kDim = 2;
constexpr float kGuard = -12345.0f;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ps::v1::Encoding encoding = (data[0] & 1) ? ps::v1::ENCODING_F16 : ps::v1::ENCODING_F32;
  const bool push_pull = (data[0] & 2) != 0;
  grpc::Slice slice(data + 1, size - 1);
  const grpc::ByteBuffer response(&slice, 1);

  // Destinations with a guard value before and after each.
  std::vector<float> dense(5 + 2, kGuard);
  std::vector<float> rows(3 * kDim + 2, kGuard);
  const std::vector<size_t> positions = {2, 0, 1};
  ps::ShardPart dense_part;
  dense_part.shard_id = 0;
  dense_part.num_values = 5;
  dense_part.out = dense.data() + 1;
  ps::ShardPart sparse_part;
  sparse_part.shard_id = 1;
  sparse_part.num_keys = 3;
  sparse_part.num_values = 3 * kDim;
  sparse_part.out = rows.data() + 1;
  sparse_part.positions = positions;
  const std::vector<ps::ShardPart*> parts = {&dense_part, &sparse_part};

  ps::Traffic traffic;
  absl::Duration server_time;
  absl::Duration parked;
  uint64_t max_clock = 0;
  uint64_t min_clock = 0;
  const absl::Status read =
      push_pull ? ps::ScatterPushPullResponse(response, parts, kDim, encoding, &traffic,
                                              &server_time, &parked)
                : ps::ScatterPullResponse(response, parts, kDim, encoding, &traffic, &parked,
                                          &max_clock, &min_clock);
  for (const std::vector<float>* out : {&dense, &rows}) {
    if (out->front() != kGuard || out->back() != kGuard) std::abort();  // Wrote outside.
  }
  if (!read.ok()) return 0;
  const uint64_t value_bytes = encoding == ps::v1::ENCODING_F16 ? 2 : 4;
  if (traffic.bytes != 11 * value_bytes || traffic.dense_equivalent_bytes != 11 * sizeof(float)) {
    std::abort();
  }
  return 0;
}
