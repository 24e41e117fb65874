#include "server/sparse_store.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"

namespace ps {

SparseStore::SparseStore(const v1::TableInfo& table, uint32_t num_shards, uint32_t shard_id,
                         std::unique_ptr<Optimizer> optimizer)
    : ShardStore(table, shard_id, std::move(optimizer)),
      num_shards_(num_shards),
      dim_(table.spec().sparse_dim()),
      slots_(optimizer_->num_slots()) {}

absl::StatusOr<PushPayload> SparseStore::ValidatePush(const v1::ShardSlice& slice,
                                                      FrameReader& reader) const {
  absl::StatusOr<std::vector<uint64_t>> keys =
      ReadKeys(slice.num_keys(), num_shards_, /*unique=*/true, reader);
  if (!keys.ok()) return keys.status();
  const uint64_t num_values = keys->size() * dim_;
  if (absl::Status header = CheckValuesHeader(slice.values(), num_values, reader); !header.ok()) {
    return header;
  }
  PushPayload payload{*std::move(keys), reader, num_values};
  if (absl::Status finite = CheckFinite(reader, num_values); !finite.ok()) return finite;
  return payload;
}

absl::StatusOr<std::vector<uint64_t>> SparseStore::ValidatePull(const v1::ShardSlice& slice,
                                                                FrameReader& reader) const {
  return ReadKeys(slice.num_keys(), num_shards_, /*unique=*/false, reader);
}

size_t SparseStore::Row(uint64_t key) {
  const auto [it, inserted] = index_.try_emplace(key, steps_.size());
  if (inserted) {
    values_.resize(values_.size() + dim_);
    initializer_.FillRow(key, absl::MakeSpan(values_.data() + values_.size() - dim_, dim_));
    for (size_t slot = 0; slot < slots_.size(); ++slot) {
      slots_[slot].resize(slots_[slot].size() + dim_, optimizer_->InitialSlotValue(slot));
    }
    steps_.push_back(0);
  }
  return it->second;
}

void SparseStore::ApplyRow(uint64_t key, absl::Span<const float> gradient) {
  const size_t row = Row(key);
  float* slot_pointers[2];  // No optimizer keeps more than two slots.
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    slot_pointers[slot] = slots_[slot].data() + row * dim_;
  }
  optimizer_->Apply(absl::MakeSpan(values_.data() + row * dim_, dim_),
                    absl::MakeConstSpan(slot_pointers, slots_.size()), gradient, ++steps_[row]);
}

void SparseStore::Apply(PushPayload& payload) {
  std::vector<float> gradient(dim_);
  for (uint64_t key : payload.keys) {
    // Validated already, so the read cannot fail.
    payload.values.Read(gradient.data(), dim_ * sizeof(float)).IgnoreError();
    ApplyRow(key, gradient);
  }
}

void SparseStore::Accumulate(uint64_t clock, PushPayload& payload) {
  Accumulator& accumulator = accumulators_[clock];
  std::vector<float> gradient(dim_);
  for (uint64_t key : payload.keys) {
    payload.values.Read(gradient.data(), dim_ * sizeof(float)).IgnoreError();
    const auto [it, inserted] = accumulator.offsets.try_emplace(key, accumulator.sums.size());
    if (inserted) accumulator.sums.resize(accumulator.sums.size() + dim_, 0.0f);
    float* sum = accumulator.sums.data() + it->second;
    for (size_t i = 0; i < dim_; ++i) sum[i] += gradient[i];
  }
}

void SparseStore::ApplyAccumulated(uint64_t clock, uint32_t contributors) {
  const auto it = accumulators_.find(clock);
  if (it == accumulators_.end()) return;
  Accumulator& accumulator = it->second;
  const float count = static_cast<float>(contributors);
  for (float& value : accumulator.sums) value /= count;
  for (const auto& [key, offset] : accumulator.offsets) {
    ApplyRow(key, absl::MakeConstSpan(accumulator.sums.data() + offset, dim_));
  }
  accumulators_.erase(it);
}

grpc::Slice SparseStore::Read(const std::vector<uint64_t>& keys, v1::TensorHeader* header) {
  // Create missing rows first: creation may reallocate values_.
  std::vector<size_t> rows;
  rows.reserve(keys.size());
  for (uint64_t key : keys) rows.push_back(Row(key));
  const size_t row_bytes = dim_ * sizeof(float);
  header->set_encoding(v1::ENCODING_F32);
  header->set_num_elements(keys.size() * dim_);
  header->set_payload_bytes(keys.size() * row_bytes);
  return PooledSlice(keys.size() * row_bytes, [&](char* out) {
    for (size_t i = 0; i < rows.size(); ++i) {
      std::memcpy(out + i * row_bytes, values_.data() + rows[i] * dim_, row_bytes);
    }
  });
}

}  // namespace ps
