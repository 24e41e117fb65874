#include "server/shard_store.h"

#include <cmath>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/partition.h"
#include "server/dense_store.h"
#include "server/sparse_store.h"

namespace ps {

absl::StatusOr<std::unique_ptr<ShardStore>> ShardStore::Create(const v1::TableInfo& table,
                                                               uint32_t num_shards,
                                                               uint32_t shard_id) {
  absl::StatusOr<std::unique_ptr<Optimizer>> optimizer = Optimizer::Create(table.spec().optimizer());
  if (!optimizer.ok()) return optimizer.status();
  switch (table.spec().kind()) {
    case v1::TABLE_KIND_DENSE:
      return std::unique_ptr<ShardStore>(new DenseStore(table, num_shards, shard_id, *std::move(optimizer)));
    case v1::TABLE_KIND_SPARSE:
      return std::unique_ptr<ShardStore>(new SparseStore(table, num_shards, shard_id, *std::move(optimizer)));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("table '", table.spec().name(), "' has no kind (DENSE or SPARSE)"));
  }
}

ShardStore::ShardStore(const v1::TableInfo& table, uint32_t shard_id,
                       std::unique_ptr<Optimizer> optimizer)
    : table_(table),
      shard_id_(shard_id),
      optimizer_(std::move(optimizer)),
      initializer_(table.spec().initializer()) {}

std::string ShardStore::Where() const {
  return absl::StrCat("table '", table_.spec().name(), "' shard ", shard_id_);
}

absl::Status ShardStore::CheckValuesHeader(const v1::TensorHeader& values, uint64_t num_elements,
                                           const FrameReader& reader) const {
  if (values.encoding() != v1::ENCODING_F32) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(), ": values must be encoded as F32, got ", v1::Encoding_Name(values.encoding())));
  }
  if (values.num_elements() != num_elements) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": expected ", num_elements,
                                                   " values, the slice has ",
                                                   values.num_elements()));
  }
  if (values.payload_bytes() != num_elements * sizeof(float)) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": ", num_elements,
                                                   " F32 values take ", num_elements * sizeof(float),
                                                   " bytes, the slice says ", values.payload_bytes()));
  }
  if (reader.remaining() < values.payload_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": the frame ends ",
                                                   values.payload_bytes() - reader.remaining(),
                                                   " bytes before the slice's values do"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> ShardStore::ReadKeys(uint64_t num_keys, uint32_t num_shards,
                                                           bool unique,
                                                           FrameReader& reader) const {
  if (reader.remaining() / sizeof(uint64_t) < num_keys) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(), ": the slice names ", num_keys, " keys but the frame holds only ",
                     reader.remaining(), " more bytes"));
  }
  std::vector<uint64_t> keys(num_keys);
  // Keys travel little-endian, the byte order of every machine we build for (x86-64, arm64).
  if (absl::Status read = reader.Read(keys.data(), num_keys * sizeof(uint64_t)); !read.ok()) {
    return read;
  }
  absl::flat_hash_set<uint64_t> seen;
  if (unique) seen.reserve(keys.size());
  for (uint64_t key : keys) {
    if (SparseShardOf(key, num_shards) != shard_id_) {
      return absl::InvalidArgumentError(absl::StrCat(Where(), ": key ", key, " belongs to shard ",
                                                     SparseShardOf(key, num_shards)));
    }
    if (unique && !seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(), ": key ", key, " appears twice in one push (sum its gradients)"));
    }
  }
  return keys;
}

absl::Status ShardStore::CheckFinite(FrameReader& reader, uint64_t count) const {
  return ForEachFloatBlock(reader, count, [&](uint64_t first, absl::Span<const float> block) {
    // A branch-free scan of the exponent bits (all ones: NaN or infinity) that the compiler
    // vectorises; the slow search runs only on a bad block.
    uint32_t all_ones = 0;
    for (float value : block) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      all_ones |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (all_ones == 0) return absl::OkStatus();
    for (size_t i = 0; i < block.size(); ++i) {
      if (!std::isfinite(block[i])) {
        return absl::InvalidArgumentError(absl::StrCat(Where(), ": value ", first + i, " is ",
                                                       block[i], "; gradients must be finite"));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace ps
