// One Push or Pull of a PsClient as the data plane sees it: the table, the exactly-once key (seq,
// clock) and one part per virtual shard, each holding what to send (push) or where the answer
// goes (pull). Routing (routing.h) groups the parts by server, request_builder.h frames them, and
// OperationExecutor (operation_executor.h) sends them until every part is done.
//
// Plain data; one thread at a time. An Operation borrows its table and the memory its slices and
// `out` pointers refer to: the caller keeps them alive until the operation has finished.
#ifndef PS_WORKER_CLIENT_OPERATION_H_
#define PS_WORKER_CLIENT_OPERATION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "grpcpp/support/slice.h"
#include "proto/types.pb.h"

namespace ps {

// One shard's part of an operation.
struct ShardPart {
  uint32_t shard_id = 0;
  uint64_t num_keys = 0;
  grpc::Slice keys;  // Sparse push and pull: num_keys uint64 keys.
  // Push: the values as sent, and their description.
  v1::TensorHeader values_header;
  grpc::Slice values;
  // Push: values sent. Pull: values expected back.
  uint64_t num_values = 0;
  // Pull destination: DENSE the shard's range starts at `out`; SPARSE row i of the answer goes to
  // out + positions[i] * dim (borrowed, like the slices).
  float* out = nullptr;
  absl::Span<const size_t> positions;
  // Acknowledged by its server (push) or scattered into `out` (pull); never sent again.
  bool done = false;
};

struct Operation {
  bool push = false;
  // Borrowed; not null once the operation is started.
  const v1::TableInfo* table = nullptr;
  // Push: the exactly-once sequence number, the same in every retry. 0 for pulls.
  uint64_t seq = 0;
  // The worker's clock the operation belongs to (push) or reads at (pull).
  uint64_t clock = 0;
  // PushPull (dense only): after the push, the same request reads every part's values into its
  // `out` at `pull_clock` (the push's clock + 1: the worker advanced in between).
  bool pull_after_push = false;
  uint64_t pull_clock = 0;
  std::vector<ShardPart> parts;
  // "push to table 'w'" for errors.
  std::string what;
};

// Payload bytes (keys and values, as encoded) an operation moved, and what the same payloads take
// as float32 values.
struct Traffic {
  uint64_t bytes = 0;
  uint64_t dense_equivalent_bytes = 0;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_OPERATION_H_
