// Hides communication behind computation under SSP and ASP. PushAndPull stages the step's
// gradient in host memory and returns at once with the values the previous exchange read; a
// thread of this class then pushes the staged gradient and reads the values for the step after
// next (PsClient::PushPull with read_ahead 1) while the caller computes the next step. The caller
// waits only when an exchange takes longer than a step's computation.
//
// What it costs: each step computes with parameters that miss the caller's own newest gradient
// (one step older than without the pipeline). The read asks for the clock of the step that uses
// it, so the table's staleness bound still holds against every other worker; it therefore needs
// ASP, or SSP with staleness >= 1 (BSP cannot run ahead of its own push). Pushes travel as
// float32 (a compressed push's encoder reads the gradient where the next step overwrites it).
//
// Buffers: one host gradient buffer (the backend's transfer memory, AllocateHost: pinned under
// CUDA) and one host values buffer, allocated once and reused every step.
//
// Thread-safety: one training thread at a time, as PsClient; the exchange thread is internal.
#ifndef PS_WORKER_TRAINING_PIPELINED_PARAMETERS_H_
#define PS_WORKER_TRAINING_PIPELINED_PARAMETERS_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/types.pb.h"
#include "worker/client/ps_client.h"
#include "worker/compute/compute_backend.h"
#include "worker/training/dense_parameters.h"

namespace ps {

class PipelinedDenseParameters final : public DenseParameters {
 public:
  // `client` and `backend` must outlive this.
  // Errors: InvalidArgument for a table that is not dense, or not ASP or SSP with staleness >= 1;
  // ResourceExhausted when the gradient buffer cannot be allocated.
  static absl::StatusOr<std::unique_ptr<PipelinedDenseParameters>> Create(
      PsClient* client, v1::TableInfo table, ComputeBackend* backend);
  // Waits for the exchange in flight.
  ~PipelinedDenseParameters() override;

  // These three first wait for the exchange in flight (an error it had is returned first).
  absl::Status Pull(absl::Span<float> values) override;
  absl::Status Push(const DeviceArray<float>& gradient) override;
  void AdvanceClock() override;
  // Returns with the values the previous exchange read swapped into `values` (no copy; on the
  // first call `values` is left as it is: the caller computed with it), and starts the exchange
  // of `gradient`, which reads into the buffer `values` held.
  // Errors: InvalidArgument for a gradient or values of the wrong size; the error of the previous
  // exchange.
  absl::Status PushAndPull(const DeviceArray<float>& gradient,
                           std::vector<float>* values) override;
  // The client's traffic; push_pull_time is the time the training thread waited for exchanges
  // (what the pipeline did not hide), not the time they took, and is not split into server and
  // barrier time (server_push_time and parked_time are zero).
  ClientStats stats() const override;

 private:
  PipelinedDenseParameters(PsClient* client, v1::TableInfo table, ComputeBackend* backend,
                           HostArray<float> gradient);

  // Waits until no exchange is in flight and returns (and clears) its status.
  absl::Status FinishExchange();
  void ExchangeLoop();

  PsClient* const client_;
  const v1::TableInfo table_;
  ComputeBackend* const backend_;
  // Written by the training thread only while no exchange is in flight; read by the exchange.
  HostArray<float> gradient_;
  // Written by the exchange; read by the training thread only while none is in flight.
  std::vector<float> prefetched_;
  bool prefetched_valid_ = false;  // Training thread only.

  mutable absl::Mutex mu_;
  bool exchange_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status exchange_status_ ABSL_GUARDED_BY(mu_);
  absl::Duration waited_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_PIPELINED_PARAMETERS_H_
