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
#include "proto/types.pb.h"
#include "server/optimizer.h"
#include "worker/client/ps_client.h"

namespace ps {

class DenseParameters {
 public:
  virtual ~DenseParameters() = default;
  // Reads the whole parameter vector, waiting as the consistency model requires.
  virtual absl::Status Pull(absl::Span<float> values) = 0;
  // Sends a gradient of the whole vector for the current clock.
  virtual absl::Status Push(absl::Span<const float> gradient) = 0;
  virtual void AdvanceClock() = 0;
  // Traffic and time spent waiting; zero for local parameters.
  virtual ClientStats stats() const = 0;
};

// A dense table on the cluster, through `client` (which must outlive this).
class ClusterDenseParameters final : public DenseParameters {
 public:
  ClusterDenseParameters(PsClient* client, v1::TableInfo table)
      : client_(client), table_(std::move(table)) {}
  absl::Status Pull(absl::Span<float> values) override { return client_->Pull(table_, values); }
  absl::Status Push(absl::Span<const float> gradient) override {
    return client_->Push(table_, gradient);
  }
  void AdvanceClock() override { client_->AdvanceClock(); }
  ClientStats stats() const override { return client_->stats(); }

 private:
  PsClient* const client_;
  const v1::TableInfo table_;
};

// The table's values and optimizer in this process, initialised and updated exactly as a
// server would (the same Initializer and Optimizer code).
class LocalDenseParameters final : public DenseParameters {
 public:
  // Errors: InvalidArgument for a spec that is not dense or has an unknown optimizer.
  static absl::StatusOr<std::unique_ptr<LocalDenseParameters>> Create(const v1::TableSpec& spec);

  absl::Status Pull(absl::Span<float> values) override;
  absl::Status Push(absl::Span<const float> gradient) override;
  void AdvanceClock() override {}
  ClientStats stats() const override { return {}; }

 private:
  LocalDenseParameters(std::vector<float> values, std::unique_ptr<Optimizer> optimizer);

  std::vector<float> values_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::vector<float>> slots_;
  uint64_t step_ = 0;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_DENSE_PARAMETERS_H_
