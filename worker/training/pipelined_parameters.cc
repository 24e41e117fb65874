#include "worker/training/pipelined_parameters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ps {

absl::StatusOr<std::unique_ptr<PipelinedDenseParameters>> PipelinedDenseParameters::Create(
    PsClient* client, v1::TableInfo table, ComputeBackend* backend) {
  const v1::ConsistencySpec& consistency = table.spec().consistency();
  if (table.spec().kind() != v1::TABLE_KIND_DENSE) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", table.spec().name(), "' is not dense; the pipeline is for dense"));
  }
  if (consistency.model() != v1::ConsistencySpec::MODEL_ASP &&
      !(consistency.model() == v1::ConsistencySpec::MODEL_SSP && consistency.staleness() >= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "overlapping communication with computation reads one clock ahead, which needs ASP or "
        "SSP with staleness >= 1; table '",
        table.spec().name(), "' is ", v1::ConsistencySpec::Model_Name(consistency.model()),
        consistency.model() == v1::ConsistencySpec::MODEL_SSP ? " with staleness 0" : ""));
  }
  PS_ASSIGN_OR_RETURN(HostArray<float> gradient,
                      backend->AllocateHost<float>(table.spec().dense_size()));
  return std::unique_ptr<PipelinedDenseParameters>(
      new PipelinedDenseParameters(client, std::move(table), backend, std::move(gradient)));
}

PipelinedDenseParameters::PipelinedDenseParameters(PsClient* client, v1::TableInfo table,
                                                   ComputeBackend* backend,
                                                   HostArray<float> gradient)
    : client_(client),
      table_(std::move(table)),
      backend_(backend),
      gradient_(std::move(gradient)),
      prefetched_(table_.spec().dense_size()) {
  thread_ = std::thread([this] { ExchangeLoop(); });
}

PipelinedDenseParameters::~PipelinedDenseParameters() {
  FinishExchange().IgnoreError();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void PipelinedDenseParameters::ExchangeLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PipelinedDenseParameters* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->exchange_requested_ || self->stop_;
          },
          this));
      if (!exchange_requested_) return;  // Stopping.
      exchange_requested_ = false;
    }
    const absl::Status status =
        client_->PushPull(table_, gradient_.span(), absl::MakeSpan(prefetched_),
                          /*read_ahead=*/1);
    absl::MutexLock lock(&mu_);
    exchange_status_ = status;
    in_flight_ = false;
  }
}

absl::Status PipelinedDenseParameters::FinishExchange() {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](PipelinedDenseParameters* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return !self->in_flight_;
      },
      this));
  waited_ += absl::Now() - start;
  absl::Status status = std::move(exchange_status_);
  exchange_status_ = absl::OkStatus();
  return status;
}

absl::Status PipelinedDenseParameters::Pull(absl::Span<float> values) {
  PS_RETURN_IF_ERROR(FinishExchange());
  prefetched_valid_ = false;  // Older than what this pull reads.
  return client_->Pull(table_, values);
}

absl::Status PipelinedDenseParameters::Push(const DeviceArray<float>& gradient) {
  PS_RETURN_IF_ERROR(FinishExchange());
  if (gradient.size() != gradient_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("push of ", gradient.size(),
                                                   " values to a table of ", gradient_.size()));
  }
  PS_RETURN_IF_ERROR(backend_->Download(gradient, gradient_.span()));
  return client_->Push(table_, gradient_.span());
}

void PipelinedDenseParameters::AdvanceClock() {
  FinishExchange().IgnoreError();  // Its error, if any, surfaced on the next data-plane call.
  client_->AdvanceClock();
}

absl::Status PipelinedDenseParameters::PushAndPull(const DeviceArray<float>& gradient,
                                                   std::vector<float>* values) {
  if (gradient.size() != gradient_.size() || values->size() != prefetched_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("an exchange of ", gradient.size(), " gradient and ", values->size(),
                     " parameter values with a table of ", gradient_.size()));
  }
  PS_RETURN_IF_ERROR(FinishExchange());
  // The caller's old buffer becomes the next exchange's destination.
  if (prefetched_valid_) values->swap(prefetched_);
  PS_RETURN_IF_ERROR(backend_->Download(gradient, gradient_.span()));
  prefetched_valid_ = true;  // Once the exchange below has finished without an error.
  absl::MutexLock lock(&mu_);
  in_flight_ = true;
  exchange_requested_ = true;
  return absl::OkStatus();
}

ClientStats PipelinedDenseParameters::stats() const {
  ClientStats stats = client_->stats();
  absl::MutexLock lock(&mu_);
  stats.push_pull_time = waited_;
  // The servers' share is of exchanges that mostly ran hidden; what was waited for is not split.
  stats.server_push_time = absl::ZeroDuration();
  stats.parked_time = absl::ZeroDuration();
  return stats;
}

}  // namespace ps
