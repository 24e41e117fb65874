#include "server/shard_store.h"

#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"
#include "common/codec/decoder.h"
#include "common/codec/half.h"
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

ShardStore::~ShardStore() {
  if (quota_ != nullptr) quota_->Charge(table_.table_id(), -charged_);
}

void ShardStore::AttachMemoryQuota(MemoryQuota* quota) {
  quota_ = quota;
  SettleMemory();
}

void ShardStore::SettleMemory() {
  if (quota_ == nullptr) return;
  const int64_t now = static_cast<int64_t>(MemoryBytes());
  quota_->Charge(table_.table_id(), now - charged_);
  charged_ = now;
}

std::string ShardStore::Where() const {
  return absl::StrCat("table '", table_.spec().name(), "' shard ", shard_id_);
}

absl::StatusOr<PushPayload> ShardStore::ValidateValues(const v1::TensorHeader& values,
                                                       uint64_t num_elements,
                                                       std::vector<uint64_t> keys,
                                                       FrameReader& reader) const {
  PushPayload payload{std::move(keys), values, reader};
  if (absl::Status valid = ValidateEncoded(values, num_elements, reader); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": ", valid.message()));
  }
  return payload;
}

bool ShardStore::DescribePull(uint64_t num_elements, v1::Encoding encoding,
                              v1::TensorHeader* header) {
  const bool half = encoding == v1::ENCODING_F16;
  header->set_encoding(half ? v1::ENCODING_F16 : v1::ENCODING_F32);
  header->set_num_elements(num_elements);
  header->set_payload_bytes(num_elements * (half ? sizeof(uint16_t) : sizeof(float)));
  return half;
}

grpc::Slice ShardStore::EncodeForPull(absl::Span<const float> values, v1::Encoding encoding,
                                      v1::TensorHeader* header) {
  const bool half = DescribePull(values.size(), encoding, header);
  const size_t bytes = header->payload_bytes();
  return PooledSlice(bytes, [&](char* out) {
    if (!half) {
      std::memcpy(out, values.data(), bytes);
      return;
    }
    // Pooled buffers are allocation-aligned.
    FloatsToHalves(values.data(), values.size(), reinterpret_cast<uint16_t*>(out));
  });
}

grpc::Slice ShardStore::CopySlice(const void* data, size_t bytes) {
  return PooledSlice(bytes, [&](char* out) {
    if (bytes > 0) std::memcpy(out, data, bytes);
  });
}

template <typename T>
absl::Status ShardStore::ReadArray(FrameReader& reader, size_t count, std::vector<T>* out,
                                   const char* what) const {
  if (reader.remaining() / sizeof(T) < count) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": the state's ", what, " needs ",
                                                   count * sizeof(T), " bytes; ",
                                                   reader.remaining(), " remain"));
  }
  out->resize(count);
  return reader.Read(out->data(), count * sizeof(T));
}

template absl::Status ShardStore::ReadArray<float>(FrameReader&, size_t, std::vector<float>*,
                                                   const char*) const;
template absl::Status ShardStore::ReadArray<uint64_t>(FrameReader&, size_t,
                                                      std::vector<uint64_t>*, const char*) const;

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

}  // namespace ps
