#include "server/table_shard.h"

#include "absl/strings/str_cat.h"

namespace ps {

TableShard::TableShard(std::unique_ptr<ShardStore> store,
                       absl::flat_hash_set<uint32_t> live_workers)
    : store_(std::move(store)), clock_(store_->table().spec().consistency()) {
  clock_.SetLiveWorkers(std::move(live_workers));
}

absl::StatusOr<bool> TableShard::AdmitLocked(const PushIdentity& push) const {
  const auto it = applied_.find(push.worker_id);
  if (it != applied_.end()) {
    if (push.incarnation < it->second.incarnation) {
      return absl::FailedPreconditionError(
          absl::StrCat("worker ", push.worker_id, " incarnation ", push.incarnation,
                       " was replaced by incarnation ", it->second.incarnation));
    }
    if (push.incarnation == it->second.incarnation && push.seq <= it->second.seq) return true;
  }
  absl::Status allowed = clock_.CheckPush(push.worker_id, push.clock);
  if (!allowed.ok()) {
    return absl::Status(allowed.code(), absl::StrCat("table '", store_->table().spec().name(),
                                                     "' shard ", store_->shard_id(), ": ",
                                                     allowed.message()));
  }
  return false;
}

void TableShard::ApplyLocked(const PushIdentity& push, PushPayload& payload) {
  if (clock_.accumulates()) {
    store_->Accumulate(push.clock, payload);
  } else {
    store_->Apply(payload);
  }
  clock_.RecordPush(push.worker_id, push.clock);
  applied_[push.worker_id] = Applied{push.incarnation, push.seq};
  CompleteClocksLocked();
}

void TableShard::CompleteClocksLocked() {
  while (std::optional<uint32_t> contributors = clock_.CompletableContributors()) {
    store_->ApplyAccumulated(clock_.clock(), *contributors);
    clock_.CompleteClock();
  }
}

void TableShard::SetLiveWorkers(absl::flat_hash_set<uint32_t> live) {
  absl::MutexLock lock(&mu_);
  clock_.SetLiveWorkers(std::move(live));
  CompleteClocksLocked();
}

bool TableShard::Readable(uint64_t reader_clock) {
  absl::MutexLock lock(&mu_);
  return clock_.Readable(reader_clock);
}

grpc::Slice TableShard::Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                             v1::TensorHeader* header, uint64_t* clock) {
  absl::MutexLock lock(&mu_);
  *clock = clock_.clock();
  return store_->Read(keys, encoding, header);
}

}  // namespace ps
