#include "server/sparse_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/codec/decoder.h"

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
  if (slice.values().encoding() == v1::ENCODING_TOPK) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(), ": top-k compresses dense tables; a sparse push already sends only its rows"));
  }
  const uint64_t num_values = keys->size() * dim_;
  return ValidateValues(slice.values(), num_values, *std::move(keys), reader);
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
  TensorDecoder decoder(payload.header, payload.values);
  for (uint64_t key : payload.keys) {
    decoder.Next(absl::MakeSpan(gradient));
    ApplyRow(key, gradient);
  }
}

void SparseStore::Accumulate(uint64_t clock, PushPayload& payload) {
  Accumulator& accumulator = accumulators_[clock];
  std::vector<float> gradient(dim_);
  TensorDecoder decoder(payload.header, payload.values);
  for (uint64_t key : payload.keys) {
    decoder.Next(absl::MakeSpan(gradient));
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

grpc::Slice SparseStore::Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                              v1::TensorHeader* header) {
  // Create missing rows first: creation may reallocate values_.
  std::vector<size_t> rows;
  rows.reserve(keys.size());
  for (uint64_t key : keys) rows.push_back(Row(key));
  std::vector<float> gathered(keys.size() * dim_);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(values_.data() + rows[i] * dim_, dim_, gathered.data() + i * dim_);
  }
  return EncodeForPull(gathered, encoding, header);
}

}  // namespace ps
