#include "server/sparse_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"
#include "common/codec/decoder.h"
#include "common/codec/half.h"
#include "common/partition.h"

namespace ps {

SparseStore::SparseStore(const v1::TableInfo& table, uint32_t num_shards, uint32_t shard_id,
                         std::unique_ptr<Optimizer> optimizer)
    : ShardStore(table, shard_id, std::move(optimizer)),
      num_shards_(num_shards),
      dim_(table.spec().sparse_dim()),
      values_(dim_) {
  for (int slot = 0; slot < optimizer_->num_slots(); ++slot) slots_.emplace_back(dim_);
}

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
    initializer_.FillRow(key, absl::MakeSpan(values_.Append(0.0f), dim_));
    for (size_t slot = 0; slot < slots_.size(); ++slot) {
      slots_[slot].Append(optimizer_->InitialSlotValue(static_cast<int>(slot)));
    }
    steps_.Append(0);
  }
  return it->second;
}

void SparseStore::ApplyRow(uint64_t key, absl::Span<const float> gradient) {
  const size_t row = Row(key);
  float* slot_pointers[2];  // No optimizer keeps more than two slots.
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    slot_pointers[slot] = slots_[slot].row(row);
  }
  optimizer_->Apply(absl::MakeSpan(values_.row(row), dim_),
                    absl::MakeConstSpan(slot_pointers, slots_.size()), gradient,
                    ++*steps_.row(row));
}

void SparseStore::Apply(PushPayload& payload) {
  std::vector<float> gradient(dim_);
  TensorDecoder decoder(payload.header, payload.values);
  for (uint64_t key : payload.keys) {
    decoder.Next(absl::MakeSpan(gradient));
    ApplyRow(key, gradient);
  }
  SettleMemory();
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
  SettleMemory();
}

grpc::Slice SparseStore::Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                              v1::TensorHeader* header) const {
  const bool half = DescribePull(keys.size() * dim_, encoding, header);
  // Rows not created yet, for F16, are made here before their conversion.
  std::vector<float> initial(half ? dim_ : 0);
  // Each row goes straight into the pooled payload: copied for F32, converted for F16.
  return PooledSlice(header->payload_bytes(), [&](char* out) {
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto it = index_.find(keys[i]);
      if (!half) {
        float* row = reinterpret_cast<float*>(out) + i * dim_;
        if (it == index_.end()) {
          initializer_.FillRow(keys[i], absl::MakeSpan(row, dim_));
        } else {
          std::copy_n(values_.row(it->second), dim_, row);
        }
        continue;
      }
      const float* row = initial.data();
      if (it == index_.end()) {
        initializer_.FillRow(keys[i], absl::MakeSpan(initial));
      } else {
        row = values_.row(it->second);
      }
      FloatsToHalves(row, dim_, reinterpret_cast<uint16_t*>(out) + i * dim_);
    }
  });
}

void SparseStore::Serialize(v1::ShardState* state, std::vector<grpc::Slice>* payload) const {
  std::vector<std::pair<uint64_t, size_t>> rows(index_.begin(), index_.end());
  std::sort(rows.begin(), rows.end());
  std::vector<uint64_t> keys;
  std::vector<uint64_t> steps;
  keys.reserve(rows.size());
  steps.reserve(rows.size());
  for (const auto& [key, row] : rows) {
    keys.push_back(key);
    steps.push_back(*steps_.row(row));
  }
  const auto gather = [&](const ChunkedRows<float>& from) {
    std::vector<float> out(rows.size() * dim_);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy_n(from.row(rows[i].second), dim_, out.data() + i * dim_);
    }
    return CopySlice(out.data(), out.size() * sizeof(float));
  };
  state->set_num_rows(rows.size());
  state->set_num_slots(slots_.size());
  payload->push_back(CopySlice(keys.data(), keys.size() * sizeof(uint64_t)));
  payload->push_back(CopySlice(steps.data(), steps.size() * sizeof(uint64_t)));
  payload->push_back(gather(values_));
  for (const ChunkedRows<float>& slot : slots_) payload->push_back(gather(slot));
  for (const auto& [clock, accumulator] : accumulators_) {
    std::vector<std::pair<uint64_t, size_t>> sums(accumulator.offsets.begin(),
                                                  accumulator.offsets.end());
    std::sort(sums.begin(), sums.end());
    std::vector<uint64_t> sum_keys;
    std::vector<float> values(sums.size() * dim_);
    for (size_t i = 0; i < sums.size(); ++i) {
      sum_keys.push_back(sums[i].first);
      std::copy_n(accumulator.sums.data() + sums[i].second, dim_, values.data() + i * dim_);
    }
    v1::AccumulatorState* entry = state->add_accumulators();
    entry->set_clock(clock);
    entry->set_num_keys(sums.size());
    payload->push_back(CopySlice(sum_keys.data(), sum_keys.size() * sizeof(uint64_t)));
    payload->push_back(CopySlice(values.data(), values.size() * sizeof(float)));
  }
}

absl::Status SparseStore::Install(const v1::ShardState& state, FrameReader& reader) {
  if (state.num_slots() != slots_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": the state has ", state.num_slots(),
                                                   " optimizer slots; the table's optimizer keeps ",
                                                   slots_.size()));
  }
  const uint64_t num_rows = state.num_rows();
  if (num_rows > reader.remaining() / sizeof(uint64_t)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(), ": the state names ", num_rows, " rows; the payload is too short"));
  }
  std::vector<uint64_t> keys;
  std::vector<uint64_t> steps;
  std::vector<float> values;
  if (absl::Status read = ReadArray(reader, num_rows, &keys, "keys"); !read.ok()) return read;
  if (absl::Status read = ReadArray(reader, num_rows, &steps, "row steps"); !read.ok()) return read;
  if (absl::Status read = ReadArray(reader, num_rows * dim_, &values, "values"); !read.ok()) {
    return read;
  }
  std::vector<std::vector<float>> slots(slots_.size());
  for (std::vector<float>& slot : slots) {
    if (absl::Status read = ReadArray(reader, num_rows * dim_, &slot, "slot"); !read.ok()) {
      return read;
    }
  }
  absl::flat_hash_map<uint64_t, size_t> index;
  index.reserve(num_rows);
  for (size_t row = 0; row < keys.size(); ++row) {
    if (SparseShardOf(keys[row], num_shards_) != shard_id_ || !index.emplace(keys[row], row).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(), ": the state's key ", keys[row], " is repeated or of another shard"));
    }
  }
  // Into chunks: the arrays read above are freed as this returns.
  ChunkedRows<uint64_t> chunked_steps(1);
  ChunkedRows<float> chunked_values(dim_);
  std::vector<ChunkedRows<float>> chunked_slots;
  for (size_t slot = 0; slot < slots.size(); ++slot) chunked_slots.emplace_back(dim_);
  for (size_t row = 0; row < keys.size(); ++row) {
    *chunked_steps.Append(0) = steps[row];
    std::copy_n(values.data() + row * dim_, dim_, chunked_values.Append(0.0f));
    for (size_t slot = 0; slot < slots.size(); ++slot) {
      std::copy_n(slots[slot].data() + row * dim_, dim_, chunked_slots[slot].Append(0.0f));
    }
  }
  std::map<uint64_t, Accumulator> accumulators;
  for (const v1::AccumulatorState& entry : state.accumulators()) {
    if (entry.num_keys() > reader.remaining() / sizeof(uint64_t)) {
      return absl::InvalidArgumentError(absl::StrCat(Where(), ": accumulator too long"));
    }
    std::vector<uint64_t> sum_keys;
    std::vector<float> sums;
    if (absl::Status read = ReadArray(reader, entry.num_keys(), &sum_keys, "accumulator keys");
        !read.ok()) {
      return read;
    }
    if (absl::Status read = ReadArray(reader, entry.num_keys() * dim_, &sums, "accumulator sums");
        !read.ok()) {
      return read;
    }
    // One accumulator per clock and one sum per key in it: a repeated clock or key would leave
    // offsets past the sums kept (read out of bounds by Serialize and ApplyAccumulated).
    const auto [slot, inserted] = accumulators.try_emplace(entry.clock());
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(), ": the state lists accumulator clock ", entry.clock(), " twice"));
    }
    Accumulator& accumulator = slot->second;
    for (size_t i = 0; i < sum_keys.size(); ++i) {
      if (SparseShardOf(sum_keys[i], num_shards_) != shard_id_ ||
          !accumulator.offsets.emplace(sum_keys[i], i * dim_).second) {
        return absl::InvalidArgumentError(absl::StrCat(Where(), ": accumulator clock ",
                                                       entry.clock(), " repeats key ", sum_keys[i],
                                                       " or holds a key of another shard"));
      }
    }
    accumulator.sums = std::move(sums);
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(), ": the state carries ", reader.remaining(), " bytes beyond its arrays"));
  }
  index_.swap(index);
  steps_.swap(chunked_steps);
  values_.swap(chunked_values);
  slots_.swap(chunked_slots);
  accumulators_.swap(accumulators);
  SettleMemory();
  return absl::OkStatus();
}

uint64_t SparseStore::RowBytes() const {
  // Values and slots, the row's step count, and about 24 bytes of hash-index entry.
  return dim_ * sizeof(float) * (1 + slots_.size()) + sizeof(uint64_t) + 24;
}

uint64_t SparseStore::MemoryBytes() const { return index_.size() * RowBytes(); }

uint64_t SparseStore::GrowthBytes(const PushPayload& payload) const {
  uint64_t new_rows = 0;
  for (uint64_t key : payload.keys) new_rows += !index_.contains(key);
  return new_rows * RowBytes();
}

}  // namespace ps
