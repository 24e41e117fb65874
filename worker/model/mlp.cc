#include "worker/model/mlp.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ps {

uint64_t MlpParameterCount(absl::Span<const int> layer_sizes) {
  uint64_t count = 0;
  for (size_t l = 1; l < layer_sizes.size(); ++l) {
    count += uint64_t(layer_sizes[l - 1]) * layer_sizes[l] + layer_sizes[l];
  }
  return count;
}

Mlp::Mlp(ComputeBackend* backend, std::vector<int> layer_sizes, int max_batch)
    : backend_(backend), layer_sizes_(std::move(layer_sizes)), max_batch_(max_batch) {
  size_t offset = 0;
  offsets_.push_back({0, 0});  // The input layer has no parameters.
  for (size_t l = 1; l < layer_sizes_.size(); ++l) {
    const size_t weights = offset;
    offset += size_t(layer_sizes_[l - 1]) * layer_sizes_[l];
    offsets_.push_back({weights, offset});
    offset += layer_sizes_[l];
  }
}

absl::StatusOr<std::unique_ptr<Mlp>> Mlp::Create(ComputeBackend* backend,
                                                 std::vector<int> layer_sizes, int max_batch) {
  if (layer_sizes.size() < 2) {
    return absl::InvalidArgumentError("an MLP needs at least an input and an output size");
  }
  for (int size : layer_sizes) {
    if (size <= 0) return absl::InvalidArgumentError(absl::StrCat("layer size ", size, " <= 0"));
  }
  if (max_batch <= 0) return absl::InvalidArgumentError("max_batch must be positive");
  std::unique_ptr<Mlp> mlp(new Mlp(backend, std::move(layer_sizes), max_batch));
  const uint64_t count = MlpParameterCount(mlp->layer_sizes_);
  PS_ASSIGN_OR_RETURN(mlp->parameters_, backend->Allocate<float>(count));
  PS_ASSIGN_OR_RETURN(mlp->gradient_, backend->Allocate<float>(count));
  for (int size : mlp->layer_sizes_) {
    for (auto* buffers : {&mlp->activations_, &mlp->deltas_}) {
      PS_ASSIGN_OR_RETURN(DeviceArray<float> buffer,
                          backend->Allocate<float>(size_t(max_batch) * size));
      buffers->push_back(std::move(buffer));
    }
  }
  PS_ASSIGN_OR_RETURN(mlp->labels_, backend->Allocate<int32_t>(max_batch));
  return mlp;
}

absl::Status Mlp::SetParameters(absl::Span<const float> parameters) {
  if (parameters.size() != parameters_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", parameters_.size(),
                                                   " parameters, got ", parameters.size()));
  }
  return backend_->Upload(parameters, parameters_);
}

absl::Status Mlp::CheckBatch(absl::Span<const float> features, absl::Span<const int32_t> labels,
                             int max_rows) const {
  if (labels.empty() || labels.size() > size_t(max_rows)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch has 1 to ", max_rows, " rows, got ", labels.size()));
  }
  if (features.size() != labels.size() * num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", labels.size() * num_inputs(),
                                                   " features for ", labels.size(),
                                                   " rows, got ", features.size()));
  }
  return absl::OkStatus();
}

absl::Status Mlp::Forward(absl::Span<const float> features, absl::Span<const int32_t> labels) {
  const int rows = static_cast<int>(labels.size());
  PS_RETURN_IF_ERROR(backend_->Upload(features, activations_[0]));
  PS_RETURN_IF_ERROR(backend_->Upload(labels, labels_));
  const size_t last = layer_sizes_.size() - 1;
  for (size_t l = 1; l <= last; ++l) {
    const int in = layer_sizes_[l - 1], out = layer_sizes_[l];
    float* z = activations_[l].data();
    PS_RETURN_IF_ERROR(backend_->Gemm(false, false, rows, out, in, 1.0f,
                                      activations_[l - 1].data(),
                                      parameters_.data() + offsets_[l].weights, 0.0f, z));
    PS_RETURN_IF_ERROR(backend_->AddBias(z, parameters_.data() + offsets_[l].bias, rows, out));
    if (l != last) PS_RETURN_IF_ERROR(backend_->Relu(z, rows * out));
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchLoss> Mlp::ComputeGradient(absl::Span<const float> features,
                                               absl::Span<const int32_t> labels,
                                               const LayerDoneCallback& on_layer_done) {
  PS_RETURN_IF_ERROR(CheckBatch(features, labels, max_batch_));
  PS_RETURN_IF_ERROR(Forward(features, labels));
  const int rows = static_cast<int>(labels.size());
  const size_t last = layer_sizes_.size() - 1;
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, backend_->SoftmaxCrossEntropy(
                                               activations_[last].data(), labels_.data(), rows,
                                               num_classes(), 1.0f / rows, deltas_[last].data()));
  for (size_t l = last; l >= 1; --l) {
    const int in = layer_sizes_[l - 1], out = layer_sizes_[l];
    // dW_l = A_{l-1}^T dZ_l; db_l = column sums of dZ_l.
    PS_RETURN_IF_ERROR(backend_->Gemm(true, false, in, out, rows, 1.0f,
                                      activations_[l - 1].data(), deltas_[l].data(), 0.0f,
                                      gradient_.data() + offsets_[l].weights));
    PS_RETURN_IF_ERROR(backend_->ColumnSums(deltas_[l].data(), rows, out,
                                            gradient_.data() + offsets_[l].bias));
    if (on_layer_done) {
      const size_t end = offsets_[l].bias + layer_sizes_[l];
      PS_RETURN_IF_ERROR(on_layer_done(offsets_[l].weights, end - offsets_[l].weights));
    }
    if (l == 1) break;  // Nothing learns from the input's gradient.
    // dA_{l-1} = dZ_l W_l^T, then through the ReLU of layer l-1.
    PS_RETURN_IF_ERROR(backend_->Gemm(false, true, rows, in, out, 1.0f, deltas_[l].data(),
                                      parameters_.data() + offsets_[l].weights, 0.0f,
                                      deltas_[l - 1].data()));
    PS_RETURN_IF_ERROR(backend_->ReluBackward(activations_[l - 1].data(),
                                              deltas_[l - 1].data(), rows * in));
  }
  return loss;
}

absl::Status Mlp::DownloadGradient(absl::Span<float> gradient) {
  if (gradient.size() != gradient_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected room for ", gradient_.size(),
                                                   " gradient values, got ", gradient.size()));
  }
  return backend_->Download(gradient_, gradient);
}

absl::StatusOr<BatchLoss> Mlp::Evaluate(absl::Span<const float> features,
                                        absl::Span<const int32_t> labels) {
  PS_RETURN_IF_ERROR(CheckBatch(features, labels, static_cast<int>(labels.size())));
  BatchLoss total;
  const size_t last = layer_sizes_.size() - 1;
  for (size_t begin = 0; begin < labels.size(); begin += max_batch_) {
    const size_t rows = std::min<size_t>(max_batch_, labels.size() - begin);
    const absl::Span<const int32_t> batch_labels = labels.subspan(begin, rows);
    PS_RETURN_IF_ERROR(
        Forward(features.subspan(begin * num_inputs(), rows * num_inputs()), batch_labels));
    PS_ASSIGN_OR_RETURN(const BatchLoss loss,
                        backend_->SoftmaxCrossEntropy(activations_[last].data(), labels_.data(),
                                                      static_cast<int>(rows), num_classes(), 1.0f,
                                                      nullptr));
    total.loss_sum += loss.loss_sum;
    total.correct += loss.correct;
  }
  return total;
}

}  // namespace ps
