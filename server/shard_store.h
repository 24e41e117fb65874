// The values and optimizer state of one table within one virtual shard, and the checks that
// guard them: a ShardStore validates a slice completely before anything touches it, so a bad
// request changes nothing. Dense stores hold the shard's contiguous range; sparse stores hold the
// rows of the keys that hash to the shard, created on first touch with the table's initialiser.
//
// Not thread-safe: the owning TableShard serialises access.
#ifndef PS_SERVER_SHARD_STORE_H_
#define PS_SERVER_SHARD_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/frame.h"
#include "grpcpp/support/slice.h"
#include "proto/parameter_server.pb.h"
#include "common/table/initializer.h"
#include "common/table/optimizer.h"
#include "server/memory_quota.h"

namespace ps {

// A push slice that passed validation: its keys, and a reader positioned at its encoded values
// (common/codec/decoder.h streams them).
struct PushPayload {
  std::vector<uint64_t> keys;  // SPARSE only.
  v1::TensorHeader header;
  FrameReader values;
};

class ShardStore {
 public:
  // Errors: InvalidArgument for a table whose kind or optimizer cannot be served.
  static absl::StatusOr<std::unique_ptr<ShardStore>> Create(const v1::TableInfo& table,
                                                            uint32_t num_shards, uint32_t shard_id);
  // Releases what it charged to its quota.
  virtual ~ShardStore();

  const v1::TableInfo& table() const { return table_; }
  uint32_t shard_id() const { return shard_id_; }

  // Charges what the store holds, from now on, to `quota` (borrowed; it must outlive the store).
  void AttachMemoryQuota(MemoryQuota* quota);
  // Bytes the store holds: values, optimizer slots and per-row bookkeeping.
  virtual uint64_t MemoryBytes() const = 0;
  // Bytes applying `payload` would add (new sparse rows); 0 for dense tables.
  virtual uint64_t GrowthBytes(const PushPayload& /*payload*/) const { return 0; }

  // Checks a push slice (encoding and payload, see ValidateEncoded; keys in this shard and
  // unique) and reads past its payload in `reader`. Changes nothing. Errors: InvalidArgument
  // naming the problem, the table and the shard.
  virtual absl::StatusOr<PushPayload> ValidatePush(const v1::ShardSlice& slice,
                                                   FrameReader& reader) const = 0;
  // Checks a pull slice and reads its keys (SPARSE) from `reader`. Errors: InvalidArgument.
  virtual absl::StatusOr<std::vector<uint64_t>> ValidatePull(const v1::ShardSlice& slice,
                                                             FrameReader& reader) const = 0;

  // ASP and SSP: applies the gradient with the table's optimizer.
  virtual void Apply(PushPayload& payload) = 0;
  // BSP: adds the gradient to clock `clock`'s accumulator.
  virtual void Accumulate(uint64_t clock, PushPayload& payload) = 0;
  // BSP: applies clock `clock`'s accumulated gradient divided by `contributors` (their average)
  // and drops the accumulator. A clock nobody sent values for changes nothing.
  virtual void ApplyAccumulated(uint64_t clock, uint32_t contributors) = 0;

  // The current values (DENSE: the whole range; SPARSE: the rows of `keys`, with the
  // initialiser's values for rows not created yet: reads never change the state, so replicas,
  // which see only pushes, stay equal to their primary), as a payload slice in `encoding` (F32 or
  // F16); `header` receives their description.
  virtual grpc::Slice Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                           v1::TensorHeader* header) const = 0;

  // Appends the canonical state (values, optimizer slots, BSP accumulators; the layout is in
  // proto/parameter_server.proto, ShardState) to `state` and its arrays to `payload`, copied:
  // the slices stay valid after the store changes. Equal states give equal bytes.
  virtual void Serialize(v1::ShardState* state, std::vector<grpc::Slice>* payload) const = 0;
  // Replaces the state with one Serialize() wrote, reading its arrays from `reader`.
  // Errors: InvalidArgument when the arrays do not fit this table and shard; nothing changes.
  virtual absl::Status Install(const v1::ShardState& state, FrameReader& reader) = 0;
  // In-place installation, for a learner receiving a large snapshot in chunks: the byte ranges
  // the state's arrays go to, in payload order, so that each chunk is copied straight into the
  // store (no staging copy of the whole snapshot). The store holds garbage until
  // FinishInstallInPlace(); the caller reads nothing from it meanwhile. nullopt where the layout
  // is not known from the header alone (sparse stores: use Install()).
  // Errors: InvalidArgument when the state does not fit this store.
  virtual absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> BeginInstallInPlace(
      const v1::ShardState& state) {
    (void)state;
    return std::optional<std::vector<absl::Span<char>>>();
  }
  // REQUIRES: BeginInstallInPlace(state) returned ranges and all of them were filled.
  virtual void FinishInstallInPlace(const v1::ShardState& state) { (void)state; }

 protected:
  ShardStore(const v1::TableInfo& table, uint32_t shard_id, std::unique_ptr<Optimizer> optimizer);

  // Charges the change in MemoryBytes() since the last call to the quota (if attached). Stores
  // call it after every change of size.
  void SettleMemory();

  // "table 'name' shard 3" for error messages.
  std::string Where() const;
  // Validates the encoded `values` of `num_elements` elements (ValidateEncoded), reading past
  // them, and returns the payload to apply. Errors: InvalidArgument naming this shard.
  absl::StatusOr<PushPayload> ValidateValues(const v1::TensorHeader& values, uint64_t num_elements,
                                             std::vector<uint64_t> keys, FrameReader& reader) const;
  // `values` as a pull payload in `encoding` (F32 or F16), described in `header`.
  static grpc::Slice EncodeForPull(absl::Span<const float> values, v1::Encoding encoding,
                                   v1::TensorHeader* header);
  // Describes in `header` a pull payload of `num_elements` values in `encoding` (F32 or F16, the
  // default for anything else) and returns whether it is F16.
  static bool DescribePull(uint64_t num_elements, v1::Encoding encoding, v1::TensorHeader* header);
  // A copy of `data` as a payload slice.
  static grpc::Slice CopySlice(const void* data, size_t bytes);
  // Reads `count` values of T into `out`. Errors: InvalidArgument naming `what`.
  template <typename T>
  absl::Status ReadArray(FrameReader& reader, size_t count, std::vector<T>* out,
                         const char* what) const;

  // Reads `num_keys` little-endian uint64 keys and checks that each hashes to this shard (and,
  // if `unique`, appears once). Errors: InvalidArgument.
  absl::StatusOr<std::vector<uint64_t>> ReadKeys(uint64_t num_keys, uint32_t num_shards,
                                                 bool unique, FrameReader& reader) const;

  const v1::TableInfo table_;
  // Layout of the state arrays, checked by Install.
  static constexpr size_t kMaxSlots = 2;
  const uint32_t shard_id_;
  const std::unique_ptr<Optimizer> optimizer_;
  const Initializer initializer_;

 private:
  MemoryQuota* quota_ = nullptr;
  int64_t charged_ = 0;
};

}  // namespace ps

#endif  // PS_SERVER_SHARD_STORE_H_
