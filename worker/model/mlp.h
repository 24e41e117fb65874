// A multilayer perceptron softmax classifier: fully connected layers with ReLU between them and
// softmax cross-entropy on the last, computed on any ComputeBackend.
//
// Parameter layout (the dense table a cluster trains, and the exported model): for each layer l
// in order, its weights W_l as a row-major in_l x out_l matrix, then its bias b_l (out_l values).
// A batch is a row-major batch x in_0 matrix, so layer l computes A_l = relu(A_{l-1} W_l + b_l).
//
// Thread-safety: one thread at a time (like the backend it runs on).
#ifndef PS_WORKER_MODEL_MLP_H_
#define PS_WORKER_MODEL_MLP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "worker/compute/compute_backend.h"

namespace ps {

// Number of parameters of an MLP with these layer sizes (input, hidden..., classes).
uint64_t MlpParameterCount(absl::Span<const int> layer_sizes);

class Mlp {
 public:
  // `layer_sizes` = {inputs, hidden..., classes}: at least two sizes, each positive.
  // `max_batch` bounds the rows of every batch passed in. Errors: InvalidArgument; what the
  // backend's allocations return.
  static absl::StatusOr<std::unique_ptr<Mlp>> Create(ComputeBackend* backend,
                                                      std::vector<int> layer_sizes, int max_batch);

  const std::vector<int>& layer_sizes() const { return layer_sizes_; }
  uint64_t num_parameters() const { return parameters_.size(); }
  int num_inputs() const { return layer_sizes_.front(); }
  int num_classes() const { return layer_sizes_.back(); }

  // Copies a whole parameter vector (the layout above) to the backend.
  absl::Status SetParameters(absl::Span<const float> parameters);

  // Called during ComputeGradient() as each layer's gradient becomes final: `count` values from
  // `begin` of gradient() (the layer's weights then its bias, contiguous in the layout above).
  // Layers come in backward order, last layer first, so the ranges cover the whole vector from
  // its end down to 0, once each. Runs on the calling thread, after the backend operations that
  // wrote the range were issued and before the next layer's: a Download() of the range on the
  // same backend sees its final values (under CUDA, the copy is ordered after them on the
  // stream). An error stops the backward pass and ComputeGradient() returns it.
  using LayerDoneCallback = std::function<absl::Status(uint64_t begin, uint64_t count)>;

  // Forward and backward pass over one batch (labels.size() rows of features): returns the summed
  // loss and the correct count, and leaves the gradient of the batch's mean loss for
  // DownloadGradient(). `on_layer_done`, when set, hears of each layer's gradient as above; the
  // values computed are the same with it or without.
  // Errors: InvalidArgument for sizes or labels out of range; what on_layer_done returns.
  absl::StatusOr<BatchLoss> ComputeGradient(absl::Span<const float> features,
                                            absl::Span<const int32_t> labels,
                                            const LayerDoneCallback& on_layer_done = nullptr);
  // The gradient of the last ComputeGradient(), in the parameter layout: where the backend keeps
  // it (gradient()), or copied to the host (DownloadGradient()).
  const DeviceArray<float>& gradient() const { return gradient_; }
  absl::Status DownloadGradient(absl::Span<float> gradient);

  // Forward pass only over any number of examples (in batches of max_batch rows).
  absl::StatusOr<BatchLoss> Evaluate(absl::Span<const float> features,
                                     absl::Span<const int32_t> labels);

 private:
  // Where layer l's weights and bias start in the parameter (and gradient) vector.
  struct LayerOffsets {
    size_t weights;
    size_t bias;
  };

  Mlp(ComputeBackend* backend, std::vector<int> layer_sizes, int max_batch);
  // Uploads a batch and runs the layers; the last layer's logits end in activations_.back().
  absl::Status Forward(absl::Span<const float> features, absl::Span<const int32_t> labels);
  absl::Status CheckBatch(absl::Span<const float> features, absl::Span<const int32_t> labels,
                          int max_rows) const;

  ComputeBackend* const backend_;
  const std::vector<int> layer_sizes_;
  const int max_batch_;
  std::vector<LayerOffsets> offsets_;
  DeviceArray<float> parameters_;
  DeviceArray<float> gradient_;
  // activations_[0] is the input batch; activations_[l] layer l's output (logits for the last).
  std::vector<DeviceArray<float>> activations_;
  // deltas_[l]: gradient of the loss with respect to layer l's pre-activation output.
  std::vector<DeviceArray<float>> deltas_;
  DeviceArray<int32_t> labels_;
};

}  // namespace ps

#endif  // PS_WORKER_MODEL_MLP_H_
