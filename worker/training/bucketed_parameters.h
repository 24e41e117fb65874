// Hides part of a BSP step's communication behind the rest of its own backward pass. Under BSP the
// next step needs this step's push applied, so nothing can overlap the next step's computation
// (pipelined_parameters.h needs SSP or ASP for that); but backward produces the gradient of the
// last layer first, and the table is split into shards of contiguous ranges
// (DenseShardRange, common/partition.h). As GradientReady() hears of final ranges (a suffix of the
// vector growing towards 0), every shard whose whole range has become final while more of the
// gradient is still to come is staged in host memory and exchanged at once
// (PsClient::PushPullShards: pushed for the current clock, read at the next) by a thread of this
// class, while the caller's backward pass goes on. PushAndPull then waits for those exchanges,
// exchanges the shards still unsent on the calling thread, advances the clock and swaps the
// values of clock + 1 into the caller's buffer. When the first shard reaches into the layer whose
// gradient comes last (few shards, a large first layer), nothing goes early and a step costs
// what one PushPull does.
//
// Results: the same pushes reach the same shards at the same clocks as one PushPull of the
// whole gradient (ClusterDenseParameters with float32 pushes), so the values after every step
// are bitwise the same. Each shard is pushed exactly once per clock.
//
// Exchanges of one step run one after another (PsClient serves one thread at a time), so the
// last shards' exchange starts once the earlier ones have returned.
// Pushes travel as float32.
//
// Buffers: one host gradient and one host values buffer, allocated once and reused every step.
//
// Thread-safety: one training thread at a time, as PsClient; the exchange thread is internal and
// uses the client only while the training thread waits for it or computes without it.
#ifndef PS_WORKER_TRAINING_BUCKETED_PARAMETERS_H_
#define PS_WORKER_TRAINING_BUCKETED_PARAMETERS_H_

#include <cstdint>
#include <deque>
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

class BucketedDenseParameters final : public DenseParameters {
 public:
  // `client` (a worker, not an observer) and `backend` must outlive this. Meant for BSP; any
  // consistency model gives the same results as ClusterDenseParameters.
  // Errors: InvalidArgument for a table that is not dense.
  static absl::StatusOr<std::unique_ptr<BucketedDenseParameters>> Create(PsClient* client,
                                                                         v1::TableInfo table,
                                                                         ComputeBackend* backend);
  // Waits for the exchanges in flight.
  ~BucketedDenseParameters() override;

  // Pull and AdvanceClock first wait for the exchanges in flight and forget a step left
  // unfinished (an error its exchanges had is returned by Pull, dropped by AdvanceClock).
  absl::Status Pull(absl::Span<float> values) override;
  // Pushes the whole gradient. Errors: FailedPrecondition when GradientReady() already sent
  // shards of this step (end such a step with PushAndPull); those of PsClient::Push.
  absl::Status Push(const DeviceArray<float>& gradient) override;
  void AdvanceClock() override;
  // Downloads the shards that [begin, begin + count) completes and starts their exchange, unless
  // the range completes the whole gradient (those shards go from PushAndPull). A range that does
  // not extend the final suffix of the vector (begin + count is not where the previous range
  // began, or the end of the vector) is left for PushAndPull.
  // Errors: InvalidArgument for a gradient of the wrong size or a range past its end; the
  // backend's download errors.
  absl::Status GradientReady(const DeviceArray<float>& gradient, uint64_t begin,
                             uint64_t count) override;
  // Waits for the step's early exchanges, exchanges the shards not sent yet, advances the clock
  // and swaps the values read at the new clock into `values` (no copy).
  // Errors: InvalidArgument for a gradient or values of the wrong size; the first error of the
  // step's exchanges (the clock then stays).
  absl::Status PushAndPull(const DeviceArray<float>& gradient,
                           std::vector<float>* values) override;
  // The client's traffic; push_pull_time is the time the training thread waited for exchanges
  // (what the overlap did not hide). server_push_time and parked_time leave out the servers'
  // share of the early exchanges (below; they ran partly hidden): what remains is that of the
  // exchanges the training thread waited for in full.
  ClientStats stats() const override;

  // Exchanges GradientReady() started since construction (while part of their step's gradient
  // was still to come).
  int64_t early_exchanges() const;

 private:
  // Shards [first_shard, end_shard), exchanged together.
  struct Bucket {
    uint32_t first_shard = 0;
    uint32_t end_shard = 0;
  };

  BucketedDenseParameters(PsClient* client, v1::TableInfo table, ComputeBackend* backend,
                          uint32_t num_shards);

  // Downloads the bucket's range of `gradient` into gradient_.
  absl::Status Stage(const DeviceArray<float>& gradient, const Bucket& bucket);
  // Stages the bucket and queues its exchange.
  absl::Status SendEarly(const DeviceArray<float>& gradient, const Bucket& bucket);
  // Waits until no exchange is queued or running, returns (and clears) the first error, and
  // starts the next step afresh.
  absl::Status FinishStep();
  void ExchangeLoop();

  // Constant after construction.
  PsClient* const client_;
  const v1::TableInfo table_;
  ComputeBackend* const backend_;
  const uint32_t num_shards_;
  // shard_begins_[s]: where shard s's range starts; shard_begins_[num_shards_] = the table size.
  const std::vector<uint64_t> shard_begins_;

  // Training thread only: the step's progress. Gradient values [final_from_, size) are final;
  // shards [unsent_end_, num_shards_) have been queued.
  uint64_t final_from_;
  uint32_t unsent_end_;

  // Each bucket's range is written by the training thread before the bucket is queued and read
  // by the exchange thread after.
  std::vector<float> gradient_;
  // Each bucket's range is written by the exchange thread; read (swapped out) by the training
  // thread once no exchange is in flight.
  std::vector<float> next_values_;

  mutable absl::Mutex mu_;
  std::deque<Bucket> queue_ ABSL_GUARDED_BY(mu_);
  // Buckets queued or being exchanged.
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The first error of the step's exchanges; the buckets after it are dropped.
  absl::Status step_status_ ABSL_GUARDED_BY(mu_);
  absl::Duration waited_ ABSL_GUARDED_BY(mu_);
  // The servers' share of the early exchanges, which stats() leaves out.
  absl::Duration early_server_time_ ABSL_GUARDED_BY(mu_);
  absl::Duration early_parked_time_ ABSL_GUARDED_BY(mu_);
  int64_t early_exchanges_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_BUCKETED_PARAMETERS_H_
