#include "worker/training/dense_parameters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/table/initializer.h"
#include "common/table/table_spec.h"
#include "spdlog/spdlog.h"

namespace ps {

absl::StatusOr<std::unique_ptr<ClusterDenseParameters>> ClusterDenseParameters::Create(
    PsClient* client, v1::TableInfo table, ComputeBackend* backend,
    const Compression& compression, int64_t warmup_pushes) {
  std::unique_ptr<BackendGradientEncoder> encoder;
  if (!compression.dense()) {
    PS_ASSIGN_OR_RETURN(
        encoder, BackendGradientEncoder::Create(backend, compression, table.spec().dense_size()));
  }
  const bool float32_pushes = encoder == nullptr || warmup_pushes > 0;
  PS_ASSIGN_OR_RETURN(HostArray<float> host_gradient,
                      backend->AllocateHost<float>(float32_pushes ? table.spec().dense_size() : 0));
  return std::unique_ptr<ClusterDenseParameters>(
      new ClusterDenseParameters(client, std::move(table), backend, std::move(encoder),
                                 warmup_pushes, std::move(host_gradient)));
}

ClusterDenseParameters::ClusterDenseParameters(PsClient* client, v1::TableInfo table,
                                               ComputeBackend* backend,
                                               std::unique_ptr<BackendGradientEncoder> encoder,
                                               int64_t warmup_pushes,
                                               HostArray<float> host_gradient)
    : client_(client),
      table_(std::move(table)),
      backend_(backend),
      encoder_(std::move(encoder)),
      warmup_pushes_left_(encoder_ == nullptr ? 0 : warmup_pushes),
      host_gradient_(std::move(host_gradient)) {}

absl::Status DenseParameters::PushAndPull(const DeviceArray<float>& gradient,
                                          std::vector<float>* values) {
  PS_RETURN_IF_ERROR(Push(gradient));
  AdvanceClock();
  return Pull(absl::MakeSpan(*values));
}

absl::Status ClusterDenseParameters::Push(const DeviceArray<float>& gradient) {
  return Send(gradient, nullptr);
}

absl::Status ClusterDenseParameters::PushAndPull(const DeviceArray<float>& gradient,
                                                 std::vector<float>* values) {
  absl::Span<float> out = absl::MakeSpan(*values);
  return Send(gradient, &out);
}

absl::Status ClusterDenseParameters::Send(const DeviceArray<float>& gradient,
                                          absl::Span<float>* values) {
  if (gradient.size() != table_.spec().dense_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "push of ", gradient.size(), " values to a table of ", table_.spec().dense_size()));
  }
  if (encoder_ != nullptr && warmup_pushes_left_ <= 0) {
    encoder_->set_gradient(gradient.data());
    return values == nullptr ? client_->Push(table_, *encoder_)
                             : client_->PushPull(table_, *encoder_, *values);
  }
  PS_RETURN_IF_ERROR(backend_->Download(gradient, host_gradient_.span()));
  PS_RETURN_IF_ERROR(values == nullptr
                         ? client_->Push(table_, host_gradient_.span())
                         : client_->PushPull(table_, host_gradient_.span(), *values));
  --warmup_pushes_left_;
  if (encoder_ != nullptr && warmup_pushes_left_ == 0) {
    spdlog::info("table '{}': warm-up over, pushes are compressed from now on",
                 table_.spec().name());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalDenseParameters>> LocalDenseParameters::Create(
    const v1::TableSpec& spec, ComputeBackend* backend) {
  // The in-process counterpart of CreateTable: refuse exactly the specs the coordinator refuses,
  // so standalone training never runs a table the cluster would not create.
  if (absl::Status valid = ValidateTableSpec(spec); !valid.ok()) {
    return absl::Status(valid.code(),
                        absl::StrCat("invalid table spec for local parameters: ", valid.message()));
  }
  if (spec.kind() != v1::TABLE_KIND_DENSE) {
    return absl::InvalidArgumentError("local parameters need a dense table spec");
  }
  absl::StatusOr<std::unique_ptr<Optimizer>> optimizer = Optimizer::Create(spec.optimizer());
  if (!optimizer.ok()) return optimizer.status();
  std::vector<float> values(spec.dense_size());
  Initializer(spec.initializer()).FillDense(0, absl::MakeSpan(values));
  return std::unique_ptr<LocalDenseParameters>(
      new LocalDenseParameters(std::move(values), std::move(*optimizer), backend));
}

LocalDenseParameters::LocalDenseParameters(std::vector<float> values,
                                           std::unique_ptr<Optimizer> optimizer,
                                           ComputeBackend* backend)
    : values_(std::move(values)),
      optimizer_(std::move(optimizer)),
      backend_(backend),
      gradient_(values_.size()) {
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

absl::Status LocalDenseParameters::Push(const DeviceArray<float>& gradient) {
  if (gradient.size() != values_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("push of ", gradient.size(), " values to a table of ", values_.size()));
  }
  PS_RETURN_IF_ERROR(backend_->Download(gradient, absl::MakeSpan(gradient_)));
  std::vector<float*> slot_pointers;
  for (std::vector<float>& slot : slots_) slot_pointers.push_back(slot.data());
  optimizer_->Apply(absl::MakeSpan(values_), slot_pointers, gradient_, ++step_);
  return absl::OkStatus();
}

}  // namespace ps
