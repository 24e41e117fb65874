#include "server/table_shard.h"

#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ps {

TableShard::TableShard(std::unique_ptr<ShardStore> store, ReplicaRole role, uint64_t epoch,
                       absl::flat_hash_set<uint32_t> live_workers)
    : store_(std::move(store)),
      clock_(store_->table().spec().consistency()),
      role_(role),
      installed_(role != ReplicaRole::kLearner) {
  clock_.SetLiveWorkers(std::move(live_workers));
  if (role == ReplicaRole::kPrimary) term_epoch_ = epoch;
}

void TableShard::SetRoleLocked(ReplicaRole role, uint64_t epoch, FinishedCallbacks* finished) {
  if (role == role_) return;
  if (role == ReplicaRole::kPrimary) {
    term_epoch_ = epoch;
    term_base_index_ = log_index_;
    RefuseQueuedLocked(absl::AbortedError(absl::StrCat(
                           "this replica became the primary of the shard at epoch ", epoch)),
                       finished);
  }
  if (role != ReplicaRole::kPrimary) forward_learners_.clear();
  role_ = role;
}

absl::StatusOr<bool> TableShard::AdmitLocked(const PushIdentity& push) const {
  absl::StatusOr<bool> seen = dedupe_.Check(push.worker_id, push.incarnation, push.seq);
  if (!seen.ok() || *seen) return seen;
  absl::Status allowed = clock_.CheckPush(push.worker_id, push.clock);
  if (!allowed.ok()) {
    return absl::Status(allowed.code(),
                        absl::StrCat("table '", store_->table().spec().name(), "' shard ",
                                     store_->shard_id(), ": ", allowed.message()));
  }
  return false;
}

v1::LogEntry TableShard::NextEntryLocked() {
  v1::LogEntry entry;
  entry.set_table_id(store_->table().table_id());
  entry.set_shard_id(store_->shard_id());
  entry.set_log_index(++log_index_);
  last_entry_time_ = absl::Now();
  entry.set_term_epoch(term_epoch_);
  entry.set_term_base_index(term_base_index_);
  return entry;
}

v1::LogEntry TableShard::ApplyLocked(const PushIdentity& push, PushPayload& payload) {
  v1::LogEntry entry = BeginApplyLocked(push);
  FinishApplyLocked(entry, payload);
  return entry;
}

v1::LogEntry TableShard::BeginApplyLocked(const PushIdentity& push) {
  v1::LogEntry entry = NextEntryLocked();
  entry.set_has_push(true);
  entry.set_worker_id(push.worker_id);
  entry.set_incarnation(push.incarnation);
  entry.set_seq(push.seq);
  entry.set_clock(push.clock);
  clock_.RecordPush(push.worker_id, push.clock);
  dedupe_.Record(push.worker_id, push.incarnation, push.seq);
  CompleteClocksLocked(&entry);
  return entry;
}

void TableShard::FinishApplyLocked(const v1::LogEntry& entry, PushPayload& payload) {
  if (clock_.accumulates()) {
    store_->Accumulate(entry.clock(), payload);
  } else {
    store_->Apply(payload);
  }
  ApplyCompletionsLocked(entry);
}

void TableShard::CompleteClocksLocked(v1::LogEntry* entry) {
  while (std::optional<uint32_t> contributors = clock_.CompletableContributors()) {
    v1::ClockCompletion* completion = entry->add_completions();
    completion->set_clock(clock_.clock());
    completion->set_contributors(*contributors);
    clock_.CompleteClock();
  }
}

void TableShard::ApplyCompletionsLocked(const v1::LogEntry& entry) {
  for (const v1::ClockCompletion& completion : entry.completions()) {
    store_->ApplyAccumulated(completion.clock(), completion.contributors());
  }
}

std::optional<v1::LogEntry> TableShard::SetLiveWorkers(absl::flat_hash_set<uint32_t> live) {
  absl::MutexLock lock(&mu_);
  clock_.SetLiveWorkers(std::move(live));
  if (role_ != ReplicaRole::kPrimary || !clock_.CompletableContributors()) return std::nullopt;
  v1::LogEntry entry = NextEntryLocked();
  CompleteClocksLocked(&entry);
  ApplyCompletionsLocked(entry);
  return entry;
}

absl::Status TableShard::CheckTermLocked(const v1::LogEntry& entry) {
  if (entry.term_epoch() < term_epoch_) {
    return absl::AbortedError(absl::StrCat("the entry comes from a primary term (epoch ",
                                           entry.term_epoch(), ") older than the one followed (",
                                           term_epoch_, ")"));
  }
  if (entry.term_epoch() == term_epoch_) {
    if (entry.term_base_index() != term_base_index_) {
      return absl::FailedPreconditionError(
          absl::StrCat("term ", term_epoch_, " started at log index ", term_base_index_,
                       " here but at ", entry.term_base_index(), " on the sender"));
    }
    return absl::OkStatus();
  }
  if (entry.term_base_index() != log_index_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this copy of table '", store_->table().spec().name(), "' shard ", store_->shard_id(),
        " holds ", log_index_, " log entries but the new primary (term of epoch ",
        entry.term_epoch(), ") continues from ", entry.term_base_index(), ": the copies diverged"));
  }
  term_epoch_ = entry.term_epoch();
  term_base_index_ = entry.term_base_index();
  return absl::OkStatus();
}

absl::Status TableShard::ApplyEntryLocked(OfferedEntry& offered) {
  const v1::LogEntry& entry = offered.entry;
  // Check the clock completions before changing anything. A clock completes without
  // contributors only where nobody pushed it (ConsistencyClock: the clocks before a worker's
  // join clock), as on the primary.
  uint64_t expected = clock_.completed();
  for (const v1::ClockCompletion& completion : entry.completions()) {
    const bool pushed = clock_.pushed_at(completion.clock()) ||
                        (entry.has_push() && entry.clock() == completion.clock());
    if (!clock_.accumulates() || completion.clock() != expected++ ||
        (completion.contributors() == 0 && pushed)) {
      return absl::FailedPreconditionError(
          absl::StrCat("log entry ", entry.log_index(), " completes BSP clock ", completion.clock(),
                       " with ", completion.contributors(),
                       " contributors; this replica's next clock is ", clock_.completed()));
    }
  }
  if (entry.has_push()) {
    if (!offered.payload.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("log entry ", entry.log_index(), " has a push but no payload"));
    }
    if (clock_.accumulates()) {
      store_->Accumulate(entry.clock(), *offered.payload);
    } else {
      store_->Apply(*offered.payload);
    }
    clock_.RecordPush(entry.worker_id(), entry.clock());
    dedupe_.Record(entry.worker_id(), entry.incarnation(), entry.seq());
  }
  for (int i = 0; i < entry.completions_size(); ++i) clock_.CompleteClock();
  ApplyCompletionsLocked(entry);
  log_index_ = entry.log_index();
  return absl::OkStatus();
}

v1::LogEntry TableShard::BarrierLocked() const {
  v1::LogEntry entry;
  entry.set_table_id(store_->table().table_id());
  entry.set_shard_id(store_->shard_id());
  entry.set_log_index(log_index_);
  entry.set_term_epoch(term_epoch_);
  entry.set_term_base_index(term_base_index_);
  entry.set_barrier(true);
  return entry;
}

void TableShard::OfferLocked(OfferedEntry offered, FinishedCallbacks* finished) {
  const auto finish = [finished](std::function<void(const absl::Status&)> done,
                                 absl::Status status) {
    finished->push_back([done = std::move(done), status = std::move(status)] { done(status); });
  };
  if (offered.entry.barrier()) {
    if (role_ == ReplicaRole::kPrimary) {
      finish(std::move(offered.done),
             absl::AbortedError("this replica is the shard's primary and takes no replication"));
      return;
    }
    if (!installed_) {
      finish(std::move(offered.done), absl::OkStatus());  // Learners are not counted on yet.
      return;
    }
    if (absl::Status term = CheckTermLocked(offered.entry); !term.ok()) {
      finish(std::move(offered.done), term);
      return;
    }
    if (offered.entry.log_index() <= log_index_) {
      finish(std::move(offered.done), absl::OkStatus());
    } else {
      barriers_.emplace(offered.entry.log_index(), std::move(offered.done));
    }
    return;
  }
  if (role_ == ReplicaRole::kPrimary) {
    finish(std::move(offered.done),
           absl::AbortedError("this replica is the shard's primary and takes no replication"));
    return;
  }
  if (!installed_) {
    // A learner copying its snapshot: keep the entry for after the install, and acknowledge it
    // now, since a learner is not counted on for durability until it has caught up.
    const uint64_t index = offered.entry.log_index();
    finish(std::move(offered.done), absl::OkStatus());
    offered.done = nullptr;
    queued_[index] = Queued{std::move(offered), /*acknowledged=*/true};
    return;
  }
  if (absl::Status term = CheckTermLocked(offered.entry); !term.ok()) {
    finish(std::move(offered.done), term);
    return;
  }
  const uint64_t index = offered.entry.log_index();
  if (index <= log_index_) {
    finish(std::move(offered.done), absl::OkStatus());  // Already held (a resend).
    return;
  }
  if (index > log_index_ + 1) {
    queued_[index] = Queued{std::move(offered), false};
    return;
  }
  absl::Status applied = ApplyEntryLocked(offered);
  finish(std::move(offered.done), applied);
  if (applied.ok()) DrainLocked(finished);
}

void TableShard::DrainLocked(FinishedCallbacks* finished) {
  ReleaseBarriersLocked(finished);
  while (!queued_.empty()) {
    auto it = queued_.begin();
    if (it->first <= log_index_) {
      if (!it->second.acknowledged && it->second.offered.done) {
        finished->push_back(
            [done = std::move(it->second.offered.done)] { done(absl::OkStatus()); });
      }
      queued_.erase(it);
      continue;
    }
    if (it->first != log_index_ + 1) return;
    Queued queued = std::move(it->second);
    queued_.erase(it);
    absl::Status status = CheckTermLocked(queued.offered.entry);
    if (status.ok()) status = ApplyEntryLocked(queued.offered);
    if (!queued.acknowledged && queued.offered.done) {
      finished->push_back([done = std::move(queued.offered.done), status] { done(status); });
    }
    if (!status.ok()) {
      RefuseQueuedLocked(status, finished);
      return;
    }
    ReleaseBarriersLocked(finished);
  }
}

void TableShard::ReleaseBarriersLocked(FinishedCallbacks* finished) {
  while (!barriers_.empty() && barriers_.begin()->first <= log_index_) {
    finished->push_back([done = std::move(barriers_.begin()->second)] { done(absl::OkStatus()); });
    barriers_.erase(barriers_.begin());
  }
}

void TableShard::RefuseQueuedLocked(const absl::Status& why, FinishedCallbacks* finished) {
  for (auto& [index, queued] : queued_) {
    if (!queued.acknowledged && queued.offered.done) {
      finished->push_back([done = std::move(queued.offered.done), why] { done(why); });
    }
  }
  queued_.clear();
  for (auto& [index, done] : barriers_) {
    finished->push_back([done = std::move(done), why] { done(why); });
  }
  barriers_.clear();
}

absl::Status TableShard::InstallLocked(const v1::ShardState& state, FrameReader& reader,
                                       FinishedCallbacks* finished) {
  if (absl::Status same = CheckSnapshotOfThisShard(state); !same.ok()) return same;
  if (absl::Status installed = store_->Install(state, reader); !installed.ok()) return installed;
  AdoptSnapshotLocked(state, finished);
  return absl::OkStatus();
}

absl::Status TableShard::CheckSnapshotOfThisShard(const v1::ShardState& state) const {
  if (state.table_id() == store_->table().table_id() && state.shard_id() == store_->shard_id()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the snapshot is of table ", state.table_id(), " shard ", state.shard_id(),
                   ", not table ", store_->table().table_id(), " shard ", store_->shard_id()));
}

void TableShard::AdoptSnapshotLocked(const v1::ShardState& state, FinishedCallbacks* finished) {
  clock_.Install(state);
  dedupe_.Install(state.dedupe());
  log_index_ = state.log_index();
  term_epoch_ = state.term_epoch();
  term_base_index_ = state.term_base_index();
  installed_ = true;
  DrainLocked(finished);
}

absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> TableShard::BeginInstallInPlaceLocked(
    const v1::ShardState& state) {
  if (role_ != ReplicaRole::kLearner || installed_) {
    return absl::FailedPreconditionError("not a learner waiting for its snapshot");
  }
  if (absl::Status same = CheckSnapshotOfThisShard(state); !same.ok()) return same;
  return store_->BeginInstallInPlace(state);
}

void TableShard::FinishInstallInPlaceLocked(const v1::ShardState& state,
                                            FinishedCallbacks* finished) {
  store_->FinishInstallInPlace(state);
  AdoptSnapshotLocked(state, finished);
}

void TableShard::SerializeLocked(v1::ShardState* state, std::vector<grpc::Slice>* payload) const {
  state->set_table_id(store_->table().table_id());
  state->set_shard_id(store_->shard_id());
  state->set_log_index(log_index_);
  state->set_term_epoch(term_epoch_);
  state->set_term_base_index(term_base_index_);
  dedupe_.Serialize(state->mutable_dedupe());
  clock_.Serialize(state);
  store_->Serialize(state, payload);
}

absl::Status TableShard::CaptureForCheckpoint(std::optional<uint64_t> cut_clock,
                                              absl::Time deadline, v1::ShardState* state,
                                              std::vector<grpc::Slice>* payload) {
  const auto where = [&] {
    return absl::StrCat("table '", store_->table().spec().name(), "' shard ", store_->shard_id());
  };
  if (!cut_clock.has_value()) {
    absl::MutexLock lock(&mu_);
    if (role_ != ReplicaRole::kPrimary) {
      return absl::AbortedError(absl::StrCat(where(), ": no longer led by this server"));
    }
    SerializeLocked(state, payload);
    return absl::OkStatus();
  }
  const uint64_t cut = *cut_clock;
  // Evaluated when the mutex is released and when the wait starts; the caller waits in short
  // slices so that the idle test is re-evaluated.
  const absl::Time idle_since = absl::Now() - kIdleCut;
  const auto reached = [this, cut, idle_since]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return role_ != ReplicaRole::kPrimary || clock_.completed() >= cut ||
           !clock_.has_live_workers() || (!clock_.has_pending() && last_entry_time_ <= idle_since);
  };
  // The clock completes under this mutex, so the wait ends holding it at the very moment the
  // cut is reached, before any later clock can complete.
  const bool in_time = mu_.LockWhenWithDeadline(absl::Condition(&reached), deadline);
  absl::Status status;
  if (role_ != ReplicaRole::kPrimary) {
    status = absl::AbortedError(absl::StrCat(where(), ": no longer led by this server"));
  } else if (!in_time) {
    status = absl::DeadlineExceededError(absl::StrCat(where(), ": BSP clock ", cut,
                                                      " (the checkpoint's cut) was not reached in "
                                                      "time; the shard has completed ",
                                                      clock_.completed(), " clocks"));
  } else if (clock_.completed() > cut) {
    status = absl::AbortedError(absl::StrCat(where(), ": already completed ", clock_.completed(),
                                             " clocks, past the cut at ", cut));
  } else {
    SerializeLocked(state, payload);
    // The accumulators are the payload's last arrays (ShardState's layout): one sum per clock
    // for dense tables, keys and sums for sparse ones.
    const size_t per_accumulator = store_->table().spec().kind() == v1::TABLE_KIND_SPARSE ? 2 : 1;
    payload->resize(payload->size() - per_accumulator * state->accumulators_size());
    state->clear_accumulators();
    state->clear_pending();
  }
  mu_.Unlock();
  return status;
}

absl::Status TableShard::RestoreLocked(const v1::ShardState& state, FrameReader& reader,
                                       uint64_t epoch) {
  FinishedCallbacks none;  // A fresh replica has nothing queued.
  if (absl::Status installed = InstallLocked(state, reader, &none); !installed.ok()) {
    return installed;
  }
  StartRestoredTermLocked(epoch);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> TableShard::BeginRestoreInPlaceLocked(
    const v1::ShardState& state) {
  if (absl::Status same = CheckSnapshotOfThisShard(state); !same.ok()) return same;
  return store_->BeginInstallInPlace(state);
}

void TableShard::FinishRestoreInPlaceLocked(const v1::ShardState& state, uint64_t epoch) {
  store_->FinishInstallInPlace(state);
  FinishedCallbacks none;  // A fresh replica has nothing queued.
  AdoptSnapshotLocked(state, &none);
  StartRestoredTermLocked(epoch);
}

void TableShard::StartRestoredTermLocked(uint64_t epoch) {
  if (role_ != ReplicaRole::kPrimary) return;
  term_epoch_ = epoch;
  term_base_index_ = log_index_;
}

bool TableShard::Readable(uint64_t reader_clock) {
  absl::MutexLock lock(&mu_);
  return clock_.Readable(reader_clock);
}

std::string TableShard::DescribeWait(uint64_t reader_clock) {
  absl::MutexLock lock(&mu_);
  return absl::StrCat("table '", store_->table().spec().name(), "' shard ", store_->shard_id(),
                      ": ", clock_.DescribeWait(reader_clock));
}

grpc::Slice TableShard::Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                             v1::TensorHeader* header, uint64_t* clock) {
  absl::MutexLock lock(&mu_);
  *clock = clock_.clock();
  return store_->Read(keys, encoding, header);
}

TableShard::Summary TableShard::Summarize() {
  Summary summary;
  summary.table_id = store_->table().table_id();
  summary.shard_id = store_->shard_id();
  absl::MutexLock lock(&mu_);
  summary.role = role_;
  summary.installed = installed_;
  summary.memory_bytes = store_->MemoryBytes();
  std::tie(summary.slowest_clock, summary.fastest_clock) = clock_.LiveWorkerClockRange();
  return summary;
}

}  // namespace ps
