// Where a dense model's parameters live while it trains: a table on the parameter servers, or
// this process (the no-cluster baseline the overhead benchmark compares against). The training
// loop is the same for both, so the comparison measures the cluster and nothing else.
#ifndef PS_WORKER_TRAINING_DENSE_PARAMETERS_H_
#define PS_WORKER_TRAINING_DENSE_PARAMETERS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/compression.h"
#include "common/table/optimizer.h"
#include "proto/types.pb.h"
#include "worker/client/ps_client.h"
#include "worker/compute/compute_backend.h"
#include "worker/training/backend_gradient_encoder.h"

namespace ps {

class DenseParameters {
 public:
  virtual ~DenseParameters() = default;
  // Reads the whole parameter vector, waiting as the consistency model requires.
  virtual absl::Status Pull(absl::Span<float> values) = 0;
  // Sends a gradient of the whole vector for the current clock. It stays in the memory of the
  // backend that computed it (the GPU's under CUDA) until the parameters need it elsewhere.
  virtual absl::Status Push(const DeviceArray<float>& gradient) = 0;
  virtual void AdvanceClock() = 0;
  // Hears, while a step's gradient is being computed, that values [begin, begin + count) of
  // `gradient` are final for this step (Mlp::LayerDoneCallback, in the order it reports them),
  // so that an implementation can start sending them (bucketed_parameters.h). The step still
  // ends with PushAndPull of the whole gradient. Called on the training thread. The default does
  // nothing. Errors: the implementation's; the step should then be abandoned.
  virtual absl::Status GradientReady(const DeviceArray<float>& /*gradient*/, uint64_t /*begin*/,
                                     uint64_t /*count*/) {
    return absl::OkStatus();
  }
  // One step's exchange: pushes `gradient` for the current clock, advances the clock and leaves
  // the values the next step computes with in `values` (the same size as the table; an
  // implementation may swap in a buffer of its own instead of copying). The default is Push,
  // AdvanceClock, Pull; a cluster table does it in one round trip.
  virtual absl::Status PushAndPull(const DeviceArray<float>& gradient, std::vector<float>* values);
  // Traffic and time spent waiting; zero for local parameters.
  virtual ClientStats stats() const = 0;
};

// A dense table on the cluster, through `client`; gradients are pushed as float32 or compressed
// on `backend` (both must outlive this). The first `warmup_pushes` pushes go uncompressed: early
// gradients are large and change fast, the phase compressed training handles worst.
class ClusterDenseParameters final : public DenseParameters {
 public:
  // Errors: those of BackendGradientEncoder::Create.
  static absl::StatusOr<std::unique_ptr<ClusterDenseParameters>> Create(
      PsClient* client, v1::TableInfo table, ComputeBackend* backend,
      const Compression& compression, int64_t warmup_pushes = 0);

  absl::Status Pull(absl::Span<float> values) override { return client_->Pull(table_, values); }
  absl::Status Push(const DeviceArray<float>& gradient) override;
  absl::Status PushAndPull(const DeviceArray<float>& gradient,
                           std::vector<float>* values) override;
  void AdvanceClock() override { client_->AdvanceClock(); }
  ClientStats stats() const override { return client_->stats(); }

 private:
  ClusterDenseParameters(PsClient* client, v1::TableInfo table, ComputeBackend* backend,
                         std::unique_ptr<BackendGradientEncoder> encoder, int64_t warmup_pushes,
                         HostArray<float> host_gradient);
  // Push (values null) or PushAndPull, compressed once the warm-up is over.
  absl::Status Send(const DeviceArray<float>& gradient, absl::Span<float>* values);

  PsClient* const client_;
  const v1::TableInfo table_;
  ComputeBackend* const backend_;
  // Null for float32 pushes, which go from host_gradient_.
  const std::unique_ptr<BackendGradientEncoder> encoder_;
  // Float32 pushes still to send before the encoder takes over.
  int64_t warmup_pushes_left_;
  // Where float32 pushes are downloaded to and sent from (empty when every push is compressed):
  // the backend's transfer memory, reused every push.
  HostArray<float> host_gradient_;
};

// The table's values and optimizer in this process, initialised and updated exactly as a
// server would (the same Initializer and Optimizer code).
class LocalDenseParameters final : public DenseParameters {
 public:
  // Gradients are read from `backend` memory (the backend must outlive this).
  // Errors: InvalidArgument, before anything is allocated, for a spec that ValidateTableSpec
  // refuses (the coordinator's check of CreateTable; common/table/table_spec.h) or that is not
  // dense.
  static absl::StatusOr<std::unique_ptr<LocalDenseParameters>> Create(const v1::TableSpec& spec,
                                                                      ComputeBackend* backend);

  absl::Status Pull(absl::Span<float> values) override;
  absl::Status Push(const DeviceArray<float>& gradient) override;
  void AdvanceClock() override {}
  ClientStats stats() const override { return {}; }

 private:
  LocalDenseParameters(std::vector<float> values, std::unique_ptr<Optimizer> optimizer,
                       ComputeBackend* backend);

  std::vector<float> values_;
  std::unique_ptr<Optimizer> optimizer_;
  ComputeBackend* const backend_;
  std::vector<std::vector<float>> slots_;
  std::vector<float> gradient_;
  uint64_t step_ = 0;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_DENSE_PARAMETERS_H_
