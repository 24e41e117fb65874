#include "server/replica_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "spdlog/spdlog.h"
#include "zlib.h"

namespace ps {

namespace {

// A reader lock on `mu` that can be released before the end of its scope (absl has the
// exclusive ReleasableMutexLock only), annotated so that the analysis follows both paths.
class ABSL_SCOPED_LOCKABLE ReleasableReaderLock {
 public:
  explicit ReleasableReaderLock(absl::Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ReleasableReaderLock(const ReleasableReaderLock&) = delete;
  ReleasableReaderLock& operator=(const ReleasableReaderLock&) = delete;
  ~ReleasableReaderLock() ABSL_UNLOCK_FUNCTION() {
    if (mu_ != nullptr) mu_->ReaderUnlock();
  }
  void Release() ABSL_UNLOCK_FUNCTION() {
    mu_->ReaderUnlock();
    mu_ = nullptr;
  }

 private:
  absl::Mutex* mu_;
};

}  // namespace
namespace {

bool IsNewerMap(const v1::ClusterMap& candidate, const v1::ClusterMap& current) {
  return candidate.epoch() > current.epoch() ||
         (candidate.epoch() == current.epoch() &&
          (candidate.membership_version() > current.membership_version() ||
           candidate.catalog_version() > current.catalog_version()));
}

std::optional<ReplicaRole> RoleIn(const v1::ShardAssignment& shard, uint32_t server) {
  for (int i = 0; i < shard.replicas_size(); ++i) {
    if (shard.replicas(i) == server) return i == 0 ? ReplicaRole::kPrimary : ReplicaRole::kBackup;
  }
  for (uint32_t learner : shard.learners()) {
    if (learner == server) return ReplicaRole::kLearner;
  }
  return std::nullopt;
}

// The epoch `server` was made a learner of `shard` at (0 if it is not one, or the map is older
// than learner epochs).
uint64_t LearnerSince(const v1::ShardAssignment& shard, uint32_t server) {
  for (int i = 0; i < shard.learners_size(); ++i) {
    if (shard.learners(i) == server) {
      return i < shard.learner_epochs_size() ? shard.learner_epochs(i) : 0;
    }
  }
  return 0;
}

bool IsRestored(const v1::ClusterMap& map, uint32_t table_id) {
  const auto& ids = map.restore().table_ids();
  return std::find(ids.begin(), ids.end(), table_id) != ids.end();
}

// Loads a fresh replica's state from its shard file in the map's restore checkpoint: read straight
// into the store where its layout allows (dense tables), else through the whole frame.
absl::Status RestoreFromCheckpoint(const v1::ClusterMap& map, TableShard& shard) {
  const uint32_t table_id = shard.store().table().table_id();
  const uint32_t shard_id = shard.store().shard_id();
  const std::string path =
      absl::StrCat(map.restore().directory(), "/", ShardFileName(table_id, shard_id));
  absl::StatusOr<ShardFileReader> file = ShardFileReader::Open(path);
  if (!file.ok()) return file.status();
  const v1::ShardState& state = file->state();
  absl::MutexLock lock(&shard.mu());
  absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> ranges =
      shard.BeginRestoreInPlaceLocked(state);
  if (!ranges.ok()) return ranges.status();
  if (ranges->has_value()) {
    uint64_t bytes = 0;
    for (const absl::Span<char> range : **ranges) bytes += range.size();
    if (bytes != file->payload_bytes()) {
      return absl::DataLossError(absl::StrCat(path, ": its payload has ", file->payload_bytes(),
                                              " bytes; the shard's state takes ", bytes));
    }
    for (const absl::Span<char> range : **ranges) {
      if (absl::Status read = file->ReadPayload(range); !read.ok()) return read;
    }
    // Only a verified file is taken; on a mismatch the caller discards this replica.
    if (absl::StatusOr<ShardFileInfo> verified = file->Finish(); !verified.ok()) {
      return verified.status();
    }
    shard.FinishRestoreInPlaceLocked(state, map.epoch());
  } else {
    grpc::Slice payload(static_cast<size_t>(file->payload_bytes()));
    if (absl::Status read = file->ReadPayload(absl::MakeSpan(
            reinterpret_cast<char*>(const_cast<uint8_t*>(payload.begin())), payload.size()));
        !read.ok()) {
      return read;
    }
    if (absl::StatusOr<ShardFileInfo> verified = file->Finish(); !verified.ok()) {
      return verified.status();
    }
    v1::ShardState parsed;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(state, {payload}), &parsed);
    if (!reader.ok()) return reader.status();
    if (absl::Status restored = shard.RestoreLocked(parsed, *reader, map.epoch()); !restored.ok()) {
      return restored;
    }
  }
  spdlog::info("table {} shard {}: restored from {} (log index {}, {} bytes)", table_id, shard_id,
               path, state.log_index(), file->file_size());
  return absl::OkStatus();
}

const char* RoleName(ReplicaRole role) {
  switch (role) {
    case ReplicaRole::kPrimary:
      return "primary";
    case ReplicaRole::kBackup:
      return "backup";
    default:
      return "learner";
  }
}

}  // namespace

absl::StatusOr<v1::Encoding> PullAnswerEncoding(const v1::PullRequest& header) {
  switch (header.value_encoding()) {
    case v1::ENCODING_UNSPECIFIED:
    case v1::ENCODING_F32:
      return v1::ENCODING_F32;
    case v1::ENCODING_F16:
      return v1::ENCODING_F16;
    default:
      return absl::InvalidArgumentError(absl::StrCat("pulls return F32 or F16 values, not ",
                                                     v1::Encoding_Name(header.value_encoding())));
  }
}

absl::StatusOr<FrameReader> SplitPullKeys(const v1::PullRequest& pull, FrameReader& reader) {
  // Bounded by the frame at every step, so the sum cannot overflow.
  uint64_t key_bytes = 0;
  for (const v1::ShardSlice& slice : pull.slices()) {
    if (slice.num_keys() > (reader.remaining() - key_bytes) / sizeof(uint64_t)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the pull's slices name more keys than the frame's ", reader.remaining(),
                       " payload bytes hold"));
    }
    key_bytes += slice.num_keys() * sizeof(uint64_t);
  }
  return reader.Split(key_bytes);  // The bytes are there: checked above.
}

uint64_t ReplicaSet::epoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return map_.epoch();
}

uint32_t ReplicaSet::self_id() const {
  absl::ReaderMutexLock lock(&mu_);
  return self_id_;
}

const v1::ShardAssignment* ReplicaSet::AssignmentLocked(uint32_t shard_id) const {
  // Compared unsigned: a shard id of 2^31 or more must not turn into a negative index.
  return shard_id < static_cast<uint32_t>(map_.shards_size()) ? &map_.shards(shard_id) : nullptr;
}

ReplicaSet::Adoption ReplicaSet::AdoptMap(const v1::ClusterMap& map, uint32_t self_id) {
  Adoption adoption;
  absl::MutexLock lock(&mu_);
  if (self_id_ == self_id && !IsNewerMap(map, map_)) return adoption;
  adoption.adopted = true;
  adoption.epoch = map.epoch();
  self_id_ = self_id;
  map_ = map;
  server_addresses_.clear();
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() == v1::MEMBER_STATE_ALIVE) {
      server_addresses_[server.server_id()] = server.address();
    }
  }
  live_workers_.clear();
  absl::flat_hash_set<uint32_t> live;
  for (const v1::WorkerInfo& worker : map.workers()) {
    if (worker.state() != v1::MEMBER_STATE_ALIVE) continue;
    live_workers_[worker.worker_id()] = worker.incarnation();
    live.insert(worker.worker_id());
  }
  for (const v1::TableInfo& table : map.tables()) tables_[table.table_id()] = table;
  const uint32_t num_shards = map.num_shards();
  for (const auto& [table_id, table] : tables_) {
    for (uint32_t shard = 0; shard < num_shards; ++shard) {
      const v1::ShardAssignment* assignment = AssignmentLocked(shard);
      const std::optional<ReplicaRole> role =
          assignment != nullptr ? RoleIn(*assignment, self_id) : std::nullopt;
      const auto it = shards_.find({table_id, shard});
      if (!role.has_value()) {
        if (it != shards_.end()) {
          spdlog::info("table '{}' shard {}: no longer held here at epoch {}", table.spec().name(),
                       shard, map.epoch());
          {
            absl::MutexLock shard_lock(&it->second->mu());
            it->second->MarkDroppedLocked();
          }
          shards_.erase(it);
          learner_since_.erase({table_id, shard});
        }
        continue;
      }
      bool fresh = it == shards_.end();
      const uint64_t since =
          *role == ReplicaRole::kLearner ? LearnerSince(*assignment, self_id) : 0;
      if (!fresh && *role == ReplicaRole::kLearner) {
        absl::MutexLock shard_lock(&it->second->mu());
        // A replica made a learner again copies afresh: its old copy may have diverged or missed
        // an update (the coordinator re-assigned it with a newer epoch).
        fresh = it->second->RoleLocked() != ReplicaRole::kLearner ||
                learner_since_[{table_id, shard}] != since;
      }
      if (*role == ReplicaRole::kLearner) {
        learner_since_[{table_id, shard}] = since;
      } else {
        learner_since_.erase({table_id, shard});
      }
      if (fresh) {
        absl::StatusOr<std::unique_ptr<ShardStore>> store =
            ShardStore::Create(table, num_shards, shard);
        if (!store.ok()) {
          spdlog::error("cannot hold table '{}': {}", table.spec().name(),
                        store.status().ToString());
          break;
        }
        if (quota_ != nullptr) (*store)->AttachMemoryQuota(quota_);
        auto created = std::make_shared<TableShard>(*std::move(store), *role, map.epoch(), live);
        if (*role != ReplicaRole::kLearner && IsRestored(map, table_id)) {
          absl::Status restored = RestoreFromCheckpoint(map, *created);
          if (!restored.ok()) {
            spdlog::error(
                "table '{}' shard {}: cannot restore from checkpoint {}: {}; the shard "
                "is not served",
                table.spec().name(), shard, map.restore().checkpoint_id(), restored.ToString());
            continue;
          }
        }
        shards_[{table_id, shard}] = std::move(created);
        spdlog::debug("table '{}' shard {}: {} at epoch {}", table.spec().name(), shard,
                      RoleName(*role), map.epoch());
        continue;
      }
      TableShard& existing = *it->second;
      absl::MutexLock shard_lock(&existing.mu());
      const ReplicaRole before = existing.RoleLocked();
      if (before != *role) {
        existing.SetRoleLocked(*role, map.epoch(), &adoption.finished);
        spdlog::info("table '{}' shard {}: {} -> {} at epoch {} (log index {})",
                     table.spec().name(), shard, RoleName(before), RoleName(*role), map.epoch(),
                     existing.LogIndexLocked());
      }
    }
  }
  for (auto& [key, shard] : shards_) {
    std::optional<v1::LogEntry> entry = shard->SetLiveWorkers(live);
    if (!entry.has_value()) continue;
    absl::MutexLock shard_lock(&shard->mu());
    AddEntryLocked(*entry, TargetsLocked(key.second, *shard), {}, &adoption.requests);
  }
  return adoption;
}

RoutedError ReplicaSet::CheckRouting(uint64_t epoch) const {
  // An older map is fine as long as this server still leads every shard the request names
  // (PrimaryShardFor): map changes that moved other shards then cost the request nothing.
  if (epoch <= map_.epoch()) return {};
  return {absl::UnavailableError(absl::StrCat("this server's map (epoch ", map_.epoch(),
                                              ") is behind the request's (epoch ", epoch,
                                              "); retry shortly")),
          0};
}

absl::StatusOr<std::shared_ptr<TableShard>> ReplicaSet::PrimaryShardFor(const v1::ShardSlice& slice,
                                                                        uint64_t catalog_version,
                                                                        uint64_t request_epoch,
                                                                        RoutedError* error) const {
  if (!tables_.contains(slice.table_id())) {
    if (catalog_version > map_.catalog_version()) {
      return absl::UnavailableError(absl::StrCat(
          "table id ", slice.table_id(), " is not in this server's catalog (version ",
          map_.catalog_version(), ") yet; the request knows version ", catalog_version, "; retry"));
    }
    return absl::NotFoundError(absl::StrCat("no table with id ", slice.table_id()));
  }
  if (slice.shard_id() >= map_.num_shards()) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", slice.shard_id(),
                                                   " does not exist (the cluster has ",
                                                   map_.num_shards(), " shards)"));
  }
  const auto it = shards_.find({slice.table_id(), slice.shard_id()});
  const v1::ShardAssignment* assignment = AssignmentLocked(slice.shard_id());
  const uint32_t primary =
      assignment != nullptr && assignment->replicas_size() > 0 ? assignment->replicas(0) : 0;
  if (primary != self_id_ && request_epoch < map_.epoch()) {
    *error = {absl::AbortedError(absl::StrCat("request routed with map epoch ", request_epoch,
                                              "; at epoch ", map_.epoch(), " server ", primary,
                                              " leads shard ", slice.shard_id(),
                                              ", not this server: refresh the map and retry")),
              map_.epoch()};
    return error->status;
  }
  if (primary != self_id_ || it == shards_.end()) {
    // Routed with this server's map, which names this server: this happens only while a shard
    // store cannot be created. Retrying later may help.
    return absl::UnavailableError(absl::StrCat("server ", self_id_, " does not serve shard ",
                                               slice.shard_id(), " at epoch ", map_.epoch(),
                                               " (server ", primary, " leads it)"));
  }
  return it->second;
}

std::vector<uint32_t> ReplicaSet::TargetsLocked(uint32_t shard_id, TableShard& table_shard) const {
  std::vector<uint32_t> targets;
  const v1::ShardAssignment* assignment = AssignmentLocked(shard_id);
  if (assignment == nullptr) return targets;
  for (int i = 1; i < assignment->replicas_size(); ++i) targets.push_back(assignment->replicas(i));
  // Learners only once they asked for their snapshot: entries before it are in the snapshot.
  const absl::flat_hash_set<uint32_t>& forwarded = table_shard.ForwardTargetsLocked();
  for (uint32_t learner : assignment->learners()) {
    if (forwarded.contains(learner)) targets.push_back(learner);
  }
  return targets;
}

void ReplicaSet::AddEntryLocked(const v1::LogEntry& entry, const std::vector<uint32_t>& targets,
                                const std::vector<grpc::Slice>& bytes,
                                std::vector<ReplicationRequest>* requests) const {
  for (uint32_t target : targets) {
    auto it = std::find_if(requests->begin(), requests->end(),
                           [&](const ReplicationRequest& r) { return r.server_id == target; });
    if (it == requests->end()) {
      ReplicationRequest& request = requests->emplace_back();
      request.server_id = target;
      const auto address = server_addresses_.find(target);
      request.address = address == server_addresses_.end() ? "" : address->second;
      request.header.set_epoch(map_.epoch());
      request.header.set_primary_id(self_id_);
      request.header.set_catalog_version(map_.catalog_version());
      it = requests->end() - 1;
    }
    *it->header.add_entries() = entry;
    it->payload.insert(it->payload.end(), bytes.begin(), bytes.end());
  }
}

absl::StatusOr<ReplicaSet::PushOutcome> ReplicaSet::ApplyPush(const v1::PushRequest& header,
                                                              FrameReader& reader,
                                                              const SendFn& send,
                                                              RoutedError* error) {
  // A validated push slice bound to its shard, with its bytes for forwarding.
  struct BoundPush {
    std::shared_ptr<TableShard> shard;
    PushPayload payload;
    v1::ShardSlice slice;
    std::vector<grpc::Slice> bytes;
    size_t request_index;
  };
  PushOutcome outcome;
  // The set's lock is released before `send` (whose failures may call back into the set at
  // once); the shard locks are held until the push is applied, so entries apply in log order.
  ReleasableReaderLock set_lock(&mu_);
  outcome.epoch = map_.epoch();
  if (RoutedError routed = CheckRouting(header.epoch()); !routed.status.ok()) {
    *error = routed;
    return routed.status;
  }
  const auto worker = live_workers_.find(header.worker_id());
  if (worker == live_workers_.end() || worker->second != header.incarnation()) {
    if (header.membership_version() > map_.membership_version()) {
      return absl::UnavailableError(absl::StrCat(
          "worker ", header.worker_id(), " is not in this server's membership (version ",
          map_.membership_version(), ") yet; the request knows version ",
          header.membership_version(), "; retry"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "worker ", header.worker_id(), " incarnation ", header.incarnation(),
        " is not a live worker (membership version ", map_.membership_version(), "); re-register"));
  }
  std::vector<BoundPush> pushes;
  pushes.reserve(header.slices_size());
  for (int i = 0; i < header.slices_size(); ++i) {
    const v1::ShardSlice& slice = header.slices(i);
    absl::StatusOr<std::shared_ptr<TableShard>> shard =
        PrimaryShardFor(slice, header.catalog_version(), header.epoch(), error);
    if (!shard.ok()) return shard.status();
    if (const v1::ShardAssignment* assignment = AssignmentLocked(slice.shard_id());
        assignment != nullptr && assignment->sealed()) {
      // Handing the shard over (ShardAssignment.sealed): the next map names its new primary.
      *error = {absl::AbortedError(absl::StrCat("server ", self_id_, " is handing shard ",
                                                slice.shard_id(), " over at epoch ", map_.epoch(),
                                                "; retry with the next map")),
                map_.epoch() + 1};
      return error->status;
    }
    FrameReader start = reader;
    absl::StatusOr<PushPayload> payload = (*shard)->store().ValidatePush(slice, reader);
    if (!payload.ok()) return payload.status();
    BoundPush& bound = pushes.emplace_back(
        BoundPush{*std::move(shard), *std::move(payload), slice, {}, static_cast<size_t>(i)});
    // Validation read exactly this slice's bytes; forward them as they arrived.
    start.ReadSlices(start.remaining() - reader.remaining(), &bound.bytes).IgnoreError();
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("the push frame carries ", reader.remaining(),
                                                   " bytes beyond what its slices describe"));
  }
  // Lock every shard in a fixed order, admit all, then apply all: all or nothing.
  std::sort(pushes.begin(), pushes.end(), [](const BoundPush& a, const BoundPush& b) {
    const ShardStore& x = a.shard->store();
    const ShardStore& y = b.shard->store();
    return std::make_pair(x.table().table_id(), x.shard_id()) <
           std::make_pair(y.table().table_id(), y.shard_id());
  });
  for (size_t i = 1; i < pushes.size(); ++i) {
    if (pushes[i].shard == pushes[i - 1].shard) {
      return absl::InvalidArgumentError(
          absl::StrCat("the push names table '", pushes[i].shard->store().table().spec().name(),
                       "' shard ", pushes[i].shard->store().shard_id(), " twice"));
    }
  }
  const PushIdentity identity{header.worker_id(), header.incarnation(), header.seq(),
                              header.clock()};
  // In the order sorted above, so two pushes cannot deadlock; released by unlock_shards on every
  // path. The analysis cannot follow locks taken in a loop, hence the unchecked lambdas.
  [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (BoundPush& push : pushes) push.shard->mu().Lock();
  }();
  const auto unlock_shards = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (auto it = pushes.rbegin(); it != pushes.rend(); ++it) it->shard->mu().Unlock();
  };
  std::vector<bool> duplicate(pushes.size());
  for (size_t i = 0; i < pushes.size(); ++i) {
    absl::Status admitted = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
      TableShard& shard = *pushes[i].shard;
      if (shard.RoleLocked() != ReplicaRole::kPrimary) {
        return absl::UnavailableError("a shard of the push changed role; retry");
      }
      absl::StatusOr<bool> seen = shard.AdmitLocked(identity);
      if (!seen.ok()) return seen.status();
      duplicate[i] = *seen;
      // New sparse rows must fit the memory quota (backups take what the primary admitted).
      if (!*seen && quota_ != nullptr) {
        const ShardStore& store = shard.store();
        return quota_->Admit(store.table().table_id(), store.table().spec().name(),
                             store.GrowthBytes(pushes[i].payload));
      }
      return absl::OkStatus();
    }();
    if (!admitted.ok()) {
      unlock_shards();
      return admitted;
    }
  }
  outcome.answer.mutable_duplicates()->Resize(header.slices_size(), false);
  bool all_duplicates = !pushes.empty();
  std::vector<ReplicationRequest> requests;
  std::vector<v1::LogEntry> entries(pushes.size());
  for (size_t i = 0; i < pushes.size(); ++i) {
    BoundPush& push = pushes[i];
    TableShard& shard = *push.shard;
    outcome.answer.set_duplicates(push.request_index, duplicate[i]);
    outcome.shard_ids.push_back(shard.store().shard_id());
    outcome.shards.push_back(&shard);
    const std::vector<uint32_t> targets = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return TargetsLocked(shard.store().shard_id(), shard);
    }();
    if (duplicate[i]) {
      // Acknowledged only once every replica holds the log up to here, which includes the
      // original: it may have been applied here and never replicated.
      AddEntryLocked([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return shard.BarrierLocked(); }(),
                     targets, {}, &requests);
      continue;
    }
    all_duplicates = false;
    entries[i] = [&]()
                     ABSL_NO_THREAD_SAFETY_ANALYSIS { return shard.BeginApplyLocked(identity); }();
    if (entries[i].term_base_index() > 0 &&
        entries[i].log_index() == entries[i].term_base_index() + 1) {
      spdlog::info(
          "table '{}' shard {}: first push as the promoted primary (epoch {}, log index {})",
          shard.store().table().spec().name(), shard.store().shard_id(), entries[i].term_epoch(),
          entries[i].log_index());
    }
    v1::LogEntry forwarded = entries[i];
    *forwarded.mutable_slice() = push.slice;
    AddEntryLocked(forwarded, targets, push.bytes, &requests);
  }
  outcome.answer.set_duplicate(all_duplicates);
  set_lock.Release();
  // The replicas receive and apply the push while this server applies it.
  send(std::move(requests), outcome);
  for (size_t i = 0; i < pushes.size(); ++i) {
    if (duplicate[i]) continue;
    [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      pushes[i].shard->FinishApplyLocked(entries[i], pushes[i].payload);
    }();
  }
  unlock_shards();
  return outcome;
}

absl::StatusOr<std::vector<ReplicaSet::PullPart>> ReplicaSet::BindPull(
    const v1::PullRequest& header, FrameReader& reader, RoutedError* error) {
  absl::ReaderMutexLock lock(&mu_);
  if (RoutedError routed = CheckRouting(header.epoch()); !routed.status.ok()) {
    *error = routed;
    return routed.status;
  }
  if (header.worker_id() != 0 && !live_workers_.contains(header.worker_id()) &&
      header.membership_version() > map_.membership_version()) {
    return absl::UnavailableError(
        absl::StrCat("worker ", header.worker_id(), " is not in this server's membership (version ",
                     map_.membership_version(), ") yet; the request knows version ",
                     header.membership_version(), "; retry"));
  }
  std::vector<PullPart> parts;
  for (const v1::ShardSlice& slice : header.slices()) {
    absl::StatusOr<std::shared_ptr<TableShard>> shard =
        PrimaryShardFor(slice, header.catalog_version(), header.epoch(), error);
    if (!shard.ok()) return shard.status();
    absl::StatusOr<std::vector<uint64_t>> keys = (*shard)->store().ValidatePull(slice, reader);
    if (!keys.ok()) return keys.status();
    parts.push_back(PullPart{*std::move(shard), slice, *std::move(keys)});
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("the pull frame carries ", reader.remaining(),
                                                   " bytes beyond what its slices describe"));
  }
  return parts;
}

ReplicaSet::Resolution ReplicaSet::Resolve(const std::vector<uint32_t>& shard_ids,
                                           const std::vector<ReplicationResult>& failures,
                                           uint64_t replicated_epoch) const {
  absl::ReaderMutexLock lock(&mu_);
  for (uint32_t shard : shard_ids) {
    const v1::ShardAssignment* assignment = AssignmentLocked(shard);
    if (assignment == nullptr || assignment->replicas_size() == 0 ||
        assignment->replicas(0) != self_id_) {
      return Resolution::kDeposed;
    }
  }
  for (const ReplicationResult& failure : failures) {
    for (uint32_t shard : failure.shard_ids) {
      const v1::ShardAssignment* assignment = AssignmentLocked(shard);
      if (assignment == nullptr) continue;
      const std::optional<ReplicaRole> role = RoleIn(*assignment, failure.server_id);
      if (!role.has_value()) continue;
      if (role == ReplicaRole::kLearner &&
          LearnerSince(*assignment, failure.server_id) > replicated_epoch) {
        continue;  // A fresh copy, from a snapshot taken after the push was applied.
      }
      return Resolution::kWaiting;
    }
  }
  return Resolution::kAcknowledge;
}

absl::StatusOr<std::optional<ReplicaSet::Offers>> ReplicaSet::TakeReplicate(
    const v1::ReplicateRequest& header, FrameReader& reader) {
  absl::ReaderMutexLock lock(&mu_);
  if (header.epoch() > map_.epoch() || header.catalog_version() > map_.catalog_version()) {
    return std::optional<Offers>();  // The sender saw a map this server has not received yet.
  }
  Offers offers;
  for (const v1::LogEntry& entry : header.entries()) {
    const uint32_t shard_id = entry.shard_id();
    const v1::ShardAssignment* assignment = AssignmentLocked(shard_id);
    if (assignment == nullptr || assignment->replicas_size() == 0 ||
        assignment->replicas(0) != header.primary_id()) {
      return absl::AbortedError(
          absl::StrCat("server ", header.primary_id(), " is not the primary of shard ", shard_id,
                       " at epoch ", map_.epoch(),
                       assignment != nullptr && assignment->replicas_size() > 0
                           ? absl::StrCat(" (server ", assignment->replicas(0), " is)")
                           : std::string()));
    }
    const auto it = shards_.find({entry.table_id(), shard_id});
    if (it == shards_.end() && header.epoch() < map_.epoch() &&
        std::find(assignment->replicas().begin(), assignment->replicas().end(), self_id_) ==
            assignment->replicas().end() &&
        std::find(assignment->learners().begin(), assignment->learners().end(), self_id_) ==
            assignment->learners().end()) {
      // Sent before the sender saw a newer map that moved the shard off this server (a drain
      // or rebalancing move, or a failure report): nobody counts this server as a replica of it
      // any more, so the entry is skipped, not refused; refusing would fail the whole request
      // and make the sender report this server for the shards it still holds. Its payload (a
      // push's keys, then values) is stepped over.
      if (entry.has_push()) {
        const v1::ShardSlice& slice = entry.slice();
        if (slice.num_keys() > reader.remaining() / sizeof(uint64_t)) {
          return absl::InvalidArgumentError(
              absl::StrCat("log entry ", entry.log_index(), " claims ", slice.num_keys(),
                           " keys; the frame has ", reader.remaining(), " bytes left"));
        }
        absl::Status skipped = reader.Skip(slice.num_keys() * sizeof(uint64_t));
        if (skipped.ok()) skipped = reader.Skip(slice.values().payload_bytes());
        if (!skipped.ok()) return absl::InvalidArgumentError(skipped.message());
      }
      continue;
    }
    if (it == shards_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("server ", self_id_, " holds no replica of table ", entry.table_id(),
                       " shard ", shard_id, " at epoch ", map_.epoch()));
    }
    OfferedEntry offered;
    offered.entry = entry;
    if (entry.barrier() && (entry.has_push() || entry.completions_size() != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("barrier ", entry.log_index(), " carries an update"));
    }
    if (entry.has_push()) {
      if (entry.slice().table_id() != entry.table_id() || entry.slice().shard_id() != shard_id) {
        return absl::InvalidArgumentError(
            absl::StrCat("log entry ", entry.log_index(), " carries a slice of table ",
                         entry.slice().table_id(), " shard ", entry.slice().shard_id()));
      }
      absl::StatusOr<PushPayload> payload = it->second->store().ValidatePush(entry.slice(), reader);
      if (!payload.ok()) return payload.status();
      offered.payload = *std::move(payload);
    } else if (entry.completions_size() == 0 && !entry.barrier()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "log entry ", entry.log_index(), " carries neither a push, a clock nor a barrier"));
    }
    offers.emplace_back(it->second, std::move(offered));
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the replication frame carries ", reader.remaining(), " bytes beyond its entries"));
  }
  return std::optional<Offers>(std::move(offers));
}

absl::StatusOr<ReplicaSet::Snapshot> ReplicaSet::TakeSnapshot(
    const v1::FetchShardSnapshotRequest& request) {
  std::shared_ptr<TableShard> shard;
  {
    absl::ReaderMutexLock lock(&mu_);
    const uint32_t shard_id = request.shard_id();
    const v1::ShardAssignment* assignment = AssignmentLocked(shard_id);
    if (shard_id >= map_.num_shards() || assignment == nullptr) {
      return absl::NotFoundError(absl::StrCat("no shard ", shard_id, " (placed yet)"));
    }
    if (request.requester_id() != 0) {
      if (request.epoch() > map_.epoch()) {
        return absl::UnavailableError(absl::StrCat("this server's map (epoch ", map_.epoch(),
                                                   ") is behind the request's (", request.epoch(),
                                                   "); retry"));
      }
      const bool leads = assignment->replicas_size() > 0 && assignment->replicas(0) == self_id_;
      const bool learner = std::find(assignment->learners().begin(), assignment->learners().end(),
                                     request.requester_id()) != assignment->learners().end();
      if (!leads || !learner) {
        return absl::AbortedError(absl::StrCat("at epoch ", map_.epoch(), " server ", self_id_,
                                               leads ? " leads" : " does not lead", " shard ",
                                               shard_id, " and server ", request.requester_id(),
                                               learner ? " is" : " is not", " its learner"));
      }
    }
    const auto it = shards_.find({request.table_id(), shard_id});
    if (it == shards_.end()) {
      return absl::NotFoundError(absl::StrCat("server ", self_id_, " holds no table ",
                                              request.table_id(), " shard ", shard_id));
    }
    shard = it->second;
  }
  Snapshot snapshot;
  std::vector<grpc::Slice> payload;
  {
    absl::MutexLock lock(&shard->mu());
    if (!shard->InstalledLocked()) {
      return absl::UnavailableError("this replica has not installed its snapshot yet");
    }
    shard->SerializeLocked(&snapshot.state, &payload);
    if (request.requester_id() != 0) shard->AddForwardTargetLocked(request.requester_id());
  }
  MakeFrame(snapshot.state, payload).Dump(&snapshot.frame).IgnoreError();
  return snapshot;
}

absl::Status ReplicaSet::Install(uint32_t table_id, uint32_t shard_id,
                                 const grpc::ByteBuffer& frame, FinishedCallbacks* finished) {
  v1::ShardState state;
  absl::StatusOr<FrameReader> payload = FrameReader::Open(frame, &state);
  if (!payload.ok()) return payload.status();
  std::shared_ptr<TableShard> shard;
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto it = shards_.find({table_id, shard_id});
    if (it == shards_.end()) return absl::AbortedError("the shard was dropped meanwhile");
    shard = it->second;
  }
  absl::MutexLock lock(&shard->mu());
  if (shard->RoleLocked() != ReplicaRole::kLearner || shard->InstalledLocked()) {
    return absl::AbortedError("the shard is no longer a learner waiting for its snapshot");
  }
  return shard->InstallLocked(state, *payload, finished);
}

absl::StatusOr<std::shared_ptr<TableShard>> ReplicaSet::LearnerShard(uint32_t table_id,
                                                                     uint32_t shard_id) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = shards_.find({table_id, shard_id});
  if (it == shards_.end()) {
    return absl::NotFoundError(
        absl::StrCat("table ", table_id, " shard ", shard_id, " is not held here any more"));
  }
  return it->second;
}

std::vector<ReplicaSet::SnapshotToFetch> ReplicaSet::SnapshotsToFetch() const {
  std::vector<SnapshotToFetch> work;
  absl::ReaderMutexLock lock(&mu_);
  for (const v1::ShardAssignment& assignment : map_.shards()) {
    if (RoleIn(assignment, self_id_) != ReplicaRole::kLearner || assignment.replicas_size() == 0) {
      continue;
    }
    const auto address = server_addresses_.find(assignment.replicas(0));
    if (address == server_addresses_.end()) continue;
    for (const auto& [table_id, table] : tables_) {
      const auto it = shards_.find({table_id, assignment.shard_id()});
      if (it == shards_.end()) continue;
      absl::MutexLock shard_lock(&it->second->mu());
      if (!it->second->InstalledLocked()) {
        work.push_back(SnapshotToFetch{table_id, assignment.shard_id(), assignment.replicas(0),
                                       address->second, map_.epoch()});
      }
    }
  }
  return work;
}

std::vector<uint32_t> ReplicaSet::CaughtUpShards(uint64_t* catalog_version) const {
  std::vector<uint32_t> ready;
  absl::ReaderMutexLock lock(&mu_);
  *catalog_version = map_.catalog_version();
  for (const v1::ShardAssignment& assignment : map_.shards()) {
    if (RoleIn(assignment, self_id_) != ReplicaRole::kLearner) continue;
    bool complete = true;
    for (const auto& [table_id, table] : tables_) {
      const auto it = shards_.find({table_id, assignment.shard_id()});
      if (it == shards_.end()) {
        complete = false;
        break;
      }
      absl::MutexLock shard_lock(&it->second->mu());
      complete = complete && it->second->InstalledLocked();
    }
    if (complete) ready.push_back(assignment.shard_id());
  }
  return ready;
}

std::vector<uint32_t> ReplicaSet::SealedShardsLed() const {
  std::vector<uint32_t> sealed;
  std::vector<std::shared_ptr<TableShard>> held;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const v1::ShardAssignment& assignment : map_.shards()) {
      if (assignment.sealed() && assignment.replicas_size() > 0 &&
          assignment.replicas(0) == self_id_) {
        sealed.push_back(assignment.shard_id());
      }
    }
    for (const auto& [key, shard] : shards_) {
      if (std::find(sealed.begin(), sealed.end(), key.second) != sealed.end()) {
        held.push_back(shard);
      }
    }
  }
  // A push admitted before the seal holds its shards' locks until it has handed its entries to
  // `send` (ApplyPush): taking each lock once waits for such a push.
  for (const std::shared_ptr<TableShard>& shard : held) absl::MutexLock barrier(&shard->mu());
  return sealed;
}

std::vector<std::shared_ptr<TableShard>> ReplicaSet::LedShards() const {
  std::vector<std::shared_ptr<TableShard>> led;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [key, shard] : shards_) {
    const v1::ShardAssignment* assignment = AssignmentLocked(key.second);
    if (assignment != nullptr && assignment->replicas_size() > 0 &&
        assignment->replicas(0) == self_id_) {
      led.push_back(shard);
    }
  }
  std::sort(led.begin(), led.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a->store().table().table_id(), a->store().shard_id()) <
           std::make_pair(b->store().table().table_id(), b->store().shard_id());
  });
  return led;
}

std::vector<TableShard::Summary> ReplicaSet::Summaries() const {
  std::vector<std::shared_ptr<TableShard>> shards;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [key, shard] : shards_) shards.push_back(shard);
  }
  std::vector<TableShard::Summary> summaries;
  summaries.reserve(shards.size());
  // Outside mu_: each shard takes its own lock.
  for (const std::shared_ptr<TableShard>& shard : shards) summaries.push_back(shard->Summarize());
  return summaries;
}

v1::DescribeShardsResponse ReplicaSet::Describe() const {
  v1::DescribeShardsResponse response;
  std::vector<std::shared_ptr<TableShard>> shards;
  {
    absl::ReaderMutexLock lock(&mu_);
    response.set_server_id(self_id_);
    response.set_epoch(map_.epoch());
    for (const auto& [key, shard] : shards_) shards.push_back(shard);
  }
  std::sort(shards.begin(), shards.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a->store().table().table_id(), a->store().shard_id()) <
           std::make_pair(b->store().table().table_id(), b->store().shard_id());
  });
  for (const std::shared_ptr<TableShard>& shard : shards) {
    v1::ShardReplicaInfo* info = response.add_replicas();
    info->set_table_id(shard->store().table().table_id());
    info->set_shard_id(shard->store().shard_id());
    v1::ShardState state;
    std::vector<grpc::Slice> payload;
    {
      absl::MutexLock lock(&shard->mu());
      switch (shard->RoleLocked()) {
        case ReplicaRole::kPrimary:
          info->set_role(v1::ShardReplicaInfo::ROLE_PRIMARY);
          break;
        case ReplicaRole::kBackup:
          info->set_role(v1::ShardReplicaInfo::ROLE_BACKUP);
          break;
        case ReplicaRole::kLearner:
          info->set_role(v1::ShardReplicaInfo::ROLE_LEARNER);
          break;
      }
      info->set_log_index(shard->LogIndexLocked());
      info->set_installed(shard->InstalledLocked());
      // An uninstalled learner's store may be being filled without the lock: not read.
      if (!shard->InstalledLocked()) continue;
      shard->SerializeLocked(&state, &payload);
      info->set_completed_clocks(shard->CompletedClocksLocked());
    }
    std::vector<grpc::Slice> frame;
    MakeFrame(state, payload).Dump(&frame).IgnoreError();
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t bytes = 0;
    for (const grpc::Slice& slice : frame) {
      crc = crc32(crc, slice.begin(), static_cast<uInt>(slice.size()));
      bytes += slice.size();
    }
    info->set_state_crc32(static_cast<uint32_t>(crc));
    info->set_state_bytes(bytes);
  }
  return response;
}

}  // namespace ps
