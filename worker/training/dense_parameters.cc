#include "worker/training/dense_parameters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/initializer.h"

namespace ps {

absl::StatusOr<std::unique_ptr<LocalDenseParameters>> LocalDenseParameters::Create(
    const v1::TableSpec& spec) {
  if (spec.kind() != v1::TABLE_KIND_DENSE || spec.dense_size() == 0) {
    return absl::InvalidArgumentError("local parameters need a dense table spec with a size");
  }
  absl::StatusOr<std::unique_ptr<Optimizer>> optimizer = Optimizer::Create(spec.optimizer());
  if (!optimizer.ok()) return optimizer.status();
  std::vector<float> values(spec.dense_size());
  Initializer(spec.initializer()).FillDense(0, absl::MakeSpan(values));
  return std::unique_ptr<LocalDenseParameters>(
      new LocalDenseParameters(std::move(values), std::move(*optimizer)));
}

LocalDenseParameters::LocalDenseParameters(std::vector<float> values,
                                           std::unique_ptr<Optimizer> optimizer)
    : values_(std::move(values)), optimizer_(std::move(optimizer)) {
  for (int slot = 0; slot < optimizer_->num_slots(); ++slot) {
    slots_.emplace_back(values_.size(), optimizer_->InitialSlotValue(slot));
  }
}

absl::Status LocalDenseParameters::Pull(absl::Span<float> values) {
  if (values.size() != values_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pull of ", values.size(), " values from a table of ", values_.size()));
  }
  std::copy(values_.begin(), values_.end(), values.begin());
  return absl::OkStatus();
}

absl::Status LocalDenseParameters::Push(absl::Span<const float> gradient) {
  if (gradient.size() != values_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("push of ", gradient.size(), " values to a table of ", values_.size()));
  }
  std::vector<float*> slot_pointers;
  for (std::vector<float>& slot : slots_) slot_pointers.push_back(slot.data());
  optimizer_->Apply(absl::MakeSpan(values_), slot_pointers, gradient, ++step_);
  return absl::OkStatus();
}

}  // namespace ps
