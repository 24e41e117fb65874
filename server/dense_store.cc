#include "server/dense_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/codec/decoder.h"

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
  return ValidateValues(slice.values(), range_.size(), {}, reader);
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
  if (payload.header.encoding() == v1::ENCODING_TOPK) {
    // Only the coordinates sent change, as in a sparse update: the optimizer state of the others
    // (momentum, Adam's moments) waits for their turn instead of decaying on a zero gradient.
    ForEachTopkChunk(payload.header, payload.values,
                     [&](absl::Span<const uint32_t> indices, absl::Span<const float> values) {
                       for (size_t i = 0; i < indices.size(); ++i) {
                         ApplyBlock(indices[i], values.subspan(i, 1));
                       }
                     });
    return;
  }
  ForEachDecodedBlock(
      payload.header, payload.values,
      [&](uint64_t first, absl::Span<const float> gradient) { ApplyBlock(first, gradient); });
}

void DenseStore::Accumulate(uint64_t clock, PushPayload& payload) {
  auto [it, inserted] = accumulators_.try_emplace(clock);
  DenseArray& sum = it->second;
  if (inserted) {
    if (!spare_accumulators_.empty()) {
      sum.swap(spare_accumulators_.back());
      spare_accumulators_.pop_back();
    } else {
      sum.assign(range_.size(), 0.0f);
    }
  }
  if (payload.header.encoding() == v1::ENCODING_TOPK) {
    ForEachTopkChunk(payload.header, payload.values,
                     [&](absl::Span<const uint32_t> indices, absl::Span<const float> values) {
                       for (size_t i = 0; i < indices.size(); ++i) sum[indices[i]] += values[i];
                     });
    return;
  }
  ForEachDecodedBlock(payload.header, payload.values,
                      [&](uint64_t first, absl::Span<const float> gradient) {
                        // Raw pointers: a checked Span subscript would not vectorise.
                        float* const target = sum.data() + first;
                        const float* const g = gradient.data();
                        for (size_t i = 0, n = gradient.size(); i < n; ++i) target[i] += g[i];
                      });
}

void DenseStore::ApplyAccumulated(uint64_t clock, uint32_t contributors) {
  const auto it = accumulators_.find(clock);
  if (it == accumulators_.end()) return;
  DenseArray& sum = it->second;
  if (contributors > 1) {  // x / 1 is x: one worker's clock skips the pass.
    const float count = static_cast<float>(contributors);
    for (float& value : sum) value /= count;
  }
  ++step_;
  ApplyBlock(0, sum);
  if (spare_accumulators_.size() < kMaxSpareAccumulators) {
    std::fill(sum.begin(), sum.end(), 0.0f);
    spare_accumulators_.push_back(std::move(sum));
  }
  accumulators_.erase(it);
}

grpc::Slice DenseStore::Read(const std::vector<uint64_t>&, v1::Encoding encoding,
                             v1::TensorHeader* header) const {
  return EncodeForPull(values_, encoding, header);
}

void DenseStore::Serialize(v1::ShardState* state, std::vector<grpc::Slice>* payload) const {
  const size_t bytes = values_.size() * sizeof(float);
  state->set_dense_step(step_);
  state->set_num_slots(slots_.size());
  payload->push_back(CopySlice(values_.data(), bytes));
  for (const DenseArray& slot : slots_) payload->push_back(CopySlice(slot.data(), bytes));
  for (const auto& [clock, sum] : accumulators_) {
    state->add_accumulators()->set_clock(clock);
    payload->push_back(CopySlice(sum.data(), bytes));
  }
}

absl::Status DenseStore::Install(const v1::ShardState& state, FrameReader& reader) {
  if (state.num_slots() != slots_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": the state has ", state.num_slots(),
                                                   " optimizer slots; the table's optimizer keeps ",
                                                   slots_.size()));
  }
  const size_t bytes = range_.size() * sizeof(float);
  const size_t arrays = 1 + slots_.size() + state.accumulators_size();
  // Exactly its arrays, as the in-place path (SnapshotSink) requires: a payload of another size
  // was written for another table size or shard count.
  if (bytes > 0 ? reader.remaining() % bytes != 0 || reader.remaining() / bytes != arrays
                : reader.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(), ": the state's arrays take ", arrays * bytes, " bytes; ",
                     reader.remaining(), " remain"));
  }
  // Every read below now succeeds, so the arrays are overwritten in place (no fresh 64 MB
  // allocations to fault in) without a partial install being possible.
  reader.Read(values_.data(), bytes).IgnoreError();
  for (DenseArray& slot : slots_) reader.Read(slot.data(), bytes).IgnoreError();
  std::map<uint64_t, DenseArray> accumulators;
  for (const v1::AccumulatorState& accumulator : state.accumulators()) {
    DenseArray& sum = accumulators[accumulator.clock()];
    sum.resize(range_.size());
    reader.Read(sum.data(), bytes).IgnoreError();
  }
  accumulators_.swap(accumulators);
  step_ = state.dense_step();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> DenseStore::BeginInstallInPlace(
    const v1::ShardState& state) {
  if (state.num_slots() != slots_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": the state has ", state.num_slots(),
                                                   " optimizer slots; the table's optimizer keeps ",
                                                   slots_.size()));
  }
  const size_t bytes = range_.size() * sizeof(float);
  std::vector<absl::Span<char>> ranges;
  const auto add = [&](DenseArray& array) {
    ranges.push_back(absl::MakeSpan(reinterpret_cast<char*>(array.data()), bytes));
  };
  add(values_);
  for (DenseArray& slot : slots_) add(slot);
  staged_accumulators_.clear();
  for (const v1::AccumulatorState& accumulator : state.accumulators()) {
    DenseArray& sum = staged_accumulators_[accumulator.clock()];
    sum.resize(range_.size());
    add(sum);
  }
  return std::optional<std::vector<absl::Span<char>>>(std::move(ranges));
}

void DenseStore::FinishInstallInPlace(const v1::ShardState& state) {
  accumulators_.swap(staged_accumulators_);
  staged_accumulators_.clear();
  step_ = state.dense_step();
}

}  // namespace ps
