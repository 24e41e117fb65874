#include "server/dense_store.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"

namespace ps {

DenseStore::DenseStore(const v1::TableInfo& table, uint32_t num_shards, uint32_t shard_id,
                       std::unique_ptr<Optimizer> optimizer)
    : ShardStore(table, shard_id, std::move(optimizer)),
      range_(DenseShardRange(table.spec().dense_size(), num_shards, shard_id)),
      values_(range_.size()) {
  initializer_.FillDense(range_.begin, absl::MakeSpan(values_));
  for (int slot = 0; slot < optimizer_->num_slots(); ++slot) {
    slots_.emplace_back(range_.size(), optimizer_->InitialSlotValue(slot));
  }
}

absl::StatusOr<PushPayload> DenseStore::ValidatePush(const v1::ShardSlice& slice,
                                                     FrameReader& reader) const {
  if (slice.num_keys() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": a dense table takes no keys"));
  }
  if (absl::Status header = CheckValuesHeader(slice.values(), range_.size(), reader); !header.ok()) {
    return header;
  }
  PushPayload payload{{}, reader, range_.size()};
  if (absl::Status finite = CheckFinite(reader, range_.size()); !finite.ok()) return finite;
  return payload;
}

absl::StatusOr<std::vector<uint64_t>> DenseStore::ValidatePull(const v1::ShardSlice& slice,
                                                               FrameReader&) const {
  if (slice.num_keys() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": a dense table takes no keys"));
  }
  return std::vector<uint64_t>();
}

void DenseStore::ApplyBlock(uint64_t first, absl::Span<const float> gradient) {
  float* slot_pointers[2];  // No optimizer keeps more than two slots.
  for (size_t slot = 0; slot < slots_.size(); ++slot) slot_pointers[slot] = slots_[slot].data() + first;
  optimizer_->Apply(absl::MakeSpan(values_.data() + first, gradient.size()),
                    absl::MakeConstSpan(slot_pointers, slots_.size()), gradient, step_);
}

void DenseStore::Apply(PushPayload& payload) {
  ++step_;
  // The payload was validated, so reading it cannot fail.
  ForEachFloatBlock(payload.values, payload.num_values,
                    [&](uint64_t first, absl::Span<const float> gradient) {
                      ApplyBlock(first, gradient);
                      return absl::OkStatus();
                    })
      .IgnoreError();
}

void DenseStore::Accumulate(uint64_t clock, PushPayload& payload) {
  auto [it, inserted] = accumulators_.try_emplace(clock);
  std::vector<float>& sum = it->second;
  if (inserted) {
    if (spare_accumulator_.size() == range_.size()) {
      sum.swap(spare_accumulator_);
    } else {
      sum.assign(range_.size(), 0.0f);
    }
  }
  ForEachFloatBlock(payload.values, payload.num_values,
                    [&](uint64_t first, absl::Span<const float> gradient) {
                      float* target = sum.data() + first;
                      for (size_t i = 0; i < gradient.size(); ++i) target[i] += gradient[i];
                      return absl::OkStatus();
                    })
      .IgnoreError();
}

void DenseStore::ApplyAccumulated(uint64_t clock, uint32_t contributors) {
  const auto it = accumulators_.find(clock);
  if (it == accumulators_.end()) return;
  std::vector<float>& sum = it->second;
  const float count = static_cast<float>(contributors);
  for (float& value : sum) value /= count;
  ++step_;
  ApplyBlock(0, sum);
  std::fill(sum.begin(), sum.end(), 0.0f);
  spare_accumulator_.swap(sum);
  accumulators_.erase(it);
}

grpc::Slice DenseStore::Read(const std::vector<uint64_t>&, v1::TensorHeader* header) {
  const size_t bytes = values_.size() * sizeof(float);
  header->set_encoding(v1::ENCODING_F32);
  header->set_num_elements(values_.size());
  header->set_payload_bytes(bytes);
  return PooledSlice(bytes, [&](char* out) { std::memcpy(out, values_.data(), bytes); });
}

}  // namespace ps
