#include "worker/training/bucketed_parameters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/partition.h"
#include "common/status_macros.h"

namespace ps {
namespace {

std::vector<uint64_t> ShardBegins(uint64_t size, uint32_t num_shards) {
  std::vector<uint64_t> begins;
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    begins.push_back(DenseShardRange(size, num_shards, shard).begin);
  }
  begins.push_back(size);
  return begins;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BucketedDenseParameters>> BucketedDenseParameters::Create(
    PsClient* client, v1::TableInfo table, ComputeBackend* backend) {
  if (table.spec().kind() != v1::TABLE_KIND_DENSE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", table.spec().name(), "' is not dense; gradient buckets are for dense tables"));
  }
  const uint32_t num_shards = client->num_shards();
  return std::unique_ptr<BucketedDenseParameters>(
      new BucketedDenseParameters(client, std::move(table), backend, num_shards));
}

BucketedDenseParameters::BucketedDenseParameters(PsClient* client, v1::TableInfo table,
                                                 ComputeBackend* backend, uint32_t num_shards)
    : client_(client),
      table_(std::move(table)),
      backend_(backend),
      num_shards_(num_shards),
      shard_begins_(ShardBegins(table_.spec().dense_size(), num_shards)),
      final_from_(table_.spec().dense_size()),
      unsent_end_(num_shards),
      gradient_(table_.spec().dense_size()),
      next_values_(table_.spec().dense_size()) {
  thread_ = std::thread([this] { ExchangeLoop(); });
}

BucketedDenseParameters::~BucketedDenseParameters() {
  FinishStep().IgnoreError();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void BucketedDenseParameters::ExchangeLoop() {
  while (true) {
    Bucket bucket;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BucketedDenseParameters* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stop_;
          },
          this));
      if (queue_.empty()) return;  // Stopping.
      bucket = queue_.front();
      queue_.pop_front();
      if (!step_status_.ok()) {  // The step has failed; pushing more of it helps nobody.
        --pending_;
        continue;
      }
    }
    const ClientStats before = client_->stats();
    const absl::Status status =
        client_->PushPullShards(table_, gradient_, absl::MakeSpan(next_values_),
                                bucket.first_shard, bucket.end_shard);
    const ClientStats after = client_->stats();
    absl::MutexLock lock(&mu_);
    early_server_time_ += after.server_push_time - before.server_push_time;
    early_parked_time_ += after.parked_time - before.parked_time;
    if (step_status_.ok()) step_status_ = status;
    --pending_;
  }
}

absl::Status BucketedDenseParameters::Stage(const DeviceArray<float>& gradient,
                                            const Bucket& bucket) {
  const uint64_t begin = shard_begins_[bucket.first_shard];
  const uint64_t end = shard_begins_[bucket.end_shard];
  return backend_->Download(gradient, absl::MakeSpan(gradient_).subspan(begin, end - begin),
                            begin);
}

absl::Status BucketedDenseParameters::SendEarly(const DeviceArray<float>& gradient,
                                                const Bucket& bucket) {
  PS_RETURN_IF_ERROR(Stage(gradient, bucket));
  absl::MutexLock lock(&mu_);
  queue_.push_back(bucket);
  ++pending_;
  ++early_exchanges_;
  return absl::OkStatus();
}

absl::Status BucketedDenseParameters::FinishStep() {
  const absl::Time start = absl::Now();
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BucketedDenseParameters* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->pending_ == 0;
        },
        this));
    waited_ += absl::Now() - start;
    status = std::move(step_status_);
    step_status_ = absl::OkStatus();
  }
  final_from_ = table_.spec().dense_size();
  unsent_end_ = num_shards_;
  return status;
}

absl::Status BucketedDenseParameters::GradientReady(const DeviceArray<float>& gradient,
                                                    uint64_t begin, uint64_t count) {
  const uint64_t size = table_.spec().dense_size();
  if (gradient.size() != size || begin > size || count > size - begin) {
    return absl::InvalidArgumentError(
        absl::StrCat("gradient range [", begin, ", +", count, ") of ", gradient.size(),
                     " values for a table of ", size));
  }
  if (begin + count != final_from_) return absl::OkStatus();  // Not contiguous: sent at the end.
  final_from_ = begin;
  // The gradient is complete: its last bucket goes from PushAndPull, on this thread (handing it
  // to the exchange thread would only add two thread switches to the step).
  if (final_from_ == 0) return absl::OkStatus();
  // The shards whose ranges now lie wholly in [final_from_, size) and are not queued yet.
  uint32_t first = unsent_end_;
  while (first > 0 && shard_begins_[first - 1] >= final_from_) --first;
  if (first == unsent_end_) return absl::OkStatus();
  const Bucket bucket{first, unsent_end_};
  unsent_end_ = first;
  return SendEarly(gradient, bucket);
}

absl::Status BucketedDenseParameters::PushAndPull(const DeviceArray<float>& gradient,
                                                  std::vector<float>* values) {
  const uint64_t size = table_.spec().dense_size();
  if (gradient.size() != size || values->size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("an exchange of ", gradient.size(), " gradient and ", values->size(),
                     " parameter values with a table of ", size));
  }
  const Bucket rest{0, unsent_end_};
  // Staged while the early exchanges may still run: they read other ranges of gradient_.
  const absl::Status staged = rest.end_shard > 0 ? Stage(gradient, rest) : absl::OkStatus();
  // The client is free once the early exchanges are done.
  PS_RETURN_IF_ERROR(FinishStep());
  PS_RETURN_IF_ERROR(staged);
  if (rest.end_shard > 0) {
    const absl::Time start = absl::Now();
    const absl::Status status = client_->PushPullShards(
        table_, gradient_, absl::MakeSpan(next_values_), rest.first_shard, rest.end_shard);
    {
      absl::MutexLock lock(&mu_);
      waited_ += absl::Now() - start;
    }
    PS_RETURN_IF_ERROR(status);
  }
  client_->AdvanceClock();
  values->swap(next_values_);  // The caller's old buffer receives the next step's values.
  return absl::OkStatus();
}

absl::Status BucketedDenseParameters::Pull(absl::Span<float> values) {
  PS_RETURN_IF_ERROR(FinishStep());
  return client_->Pull(table_, values);
}

absl::Status BucketedDenseParameters::Push(const DeviceArray<float>& gradient) {
  if (unsent_end_ != num_shards_) {
    FinishStep().IgnoreError();
    return absl::FailedPreconditionError(
        absl::StrCat("table '", table_.spec().name(),
                     "': a step whose shards were sent as its gradient was computed ends with "
                     "PushAndPull, not Push"));
  }
  PS_RETURN_IF_ERROR(FinishStep());
  if (gradient.size() != gradient_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("push of ", gradient.size(),
                                                   " values to a table of ", gradient_.size()));
  }
  PS_RETURN_IF_ERROR(backend_->Download(gradient, absl::MakeSpan(gradient_)));
  return client_->Push(table_, gradient_);
}

void BucketedDenseParameters::AdvanceClock() {
  FinishStep().IgnoreError();
  client_->AdvanceClock();
}

ClientStats BucketedDenseParameters::stats() const {
  ClientStats stats = client_->stats();
  absl::MutexLock lock(&mu_);
  stats.push_pull_time = waited_;
  stats.server_push_time -= early_server_time_;
  stats.parked_time -= early_parked_time_;
  return stats;
}

int64_t BucketedDenseParameters::early_exchanges() const {
  absl::MutexLock lock(&mu_);
  return early_exchanges_;
}

}  // namespace ps
