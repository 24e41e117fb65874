#include "server/data_plane_service.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "spdlog/spdlog.h"
#include "zlib.h"

namespace ps {
namespace {

constexpr char kEpochTrailer[] = "ps-epoch";
constexpr size_t kSnapshotChunkBytes = size_t{4} << 20;
constexpr absl::Duration kLearnerPoll = absl::Milliseconds(200);

grpc::ByteBuffer SerializeMessage(const google::protobuf::MessageLite& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

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

// Finishes a unary reactor exactly once from any thread, also after the client cancelled. The
// reactor deletes itself once finished; this state outlives it.
struct Completion {
  absl::Mutex mu;
  grpc::ServerUnaryReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;

  // Runs `fill` (writing the response) and finishes, unless finished already.
  bool Finish(const grpc::Status& status, const std::function<void()>& fill = nullptr) {
    grpc::ServerUnaryReactor* to_finish = nullptr;
    {
      absl::MutexLock lock(&mu);
      if (reactor == nullptr) return false;
      if (fill) fill();
      to_finish = reactor;
      reactor = nullptr;
    }
    to_finish->Finish(status);
    return true;
  }
  bool Finished() {
    absl::MutexLock lock(&mu);
    return reactor == nullptr;
  }
};

class CompletionReactor : public grpc::ServerUnaryReactor {
 public:
  CompletionReactor() : completion_(std::make_shared<Completion>()) {
    absl::MutexLock lock(&completion_->mu);
    completion_->reactor = this;
  }
  const std::shared_ptr<Completion>& completion() const { return completion_; }
  void OnCancel() override {
    completion_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<Completion> completion_;
};

}  // namespace

// A push in flight: applied, waiting for its replicas' acknowledgements.
struct DataPlaneService::PushProgress {
  std::shared_ptr<Completion> completion;
  grpc::ByteBuffer* response = nullptr;
  v1::PushResponse answer;
  // Shards of the push (all led by this server when it was applied).
  std::vector<uint32_t> shard_ids;
  // Replicas that failed, waiting for a map without them.
  std::vector<ReplicationResult> unresolved;
  // The two things an acknowledgement waits for: this server applied the push, and every replica
  // has it. They finish in either order (the replicas apply while this server does).
  std::atomic<int> unsettled{2};

  void Settle() {
    if (unsettled.fetch_sub(1) == 1) {
      completion->Finish(grpc::Status::OK, [&] { *response = SerializeMessage(answer); });
    }
  }
};

class DataPlaneService::PushCall : public CompletionReactor {};

// A Replicate frame in flight on a backup or learner.
class DataPlaneService::ReplicateCall : public CompletionReactor {
 public:
  ReplicateCall(const grpc::ByteBuffer& request, grpc::ByteBuffer* response)
      : request_(request), response_(response) {}
  const grpc::ByteBuffer& request() const { return request_; }
  grpc::ByteBuffer* response() const { return response_; }

 private:
  const grpc::ByteBuffer request_;  // Shares the received slices.
  grpc::ByteBuffer* const response_;
};

// A pull in flight: bound to its shards, possibly parked until they are readable at its clock.
class DataPlaneService::PullCall : public grpc::ServerUnaryReactor {
 public:
  struct Part {
    std::shared_ptr<TableShard> shard;
    v1::ShardSlice slice;
    std::vector<uint64_t> keys;
  };

  PullCall(DataPlaneService* service, grpc::CallbackServerContext* context,
           grpc::ByteBuffer* response)
      : service_(service), context_(context), response_(response) {}

  void OnCancel() override { service_->CancelWaiting(this); }
  void OnDone() override { delete this; }

  grpc::CallbackServerContext* context() const { return context_; }

  bool Readable() const {
    for (const Part& part : parts) {
      if (!part.shard->Readable(clock)) return false;
    }
    return true;
  }
  // Whether every part's shard is still led here.
  bool StillPrimary() const {
    for (const Part& part : parts) {
      absl::MutexLock lock(&part.shard->mu());
      if (part.shard->RoleLocked() != ReplicaRole::kPrimary) return false;
    }
    return true;
  }

  // Reads every part and finishes the call.
  void Respond() {
    v1::PullResponse header;
    std::vector<grpc::Slice> payload;
    payload.reserve(parts.size());
    for (const Part& part : parts) {
      v1::ShardSlice* slice = header.add_slices();
      slice->set_table_id(part.slice.table_id());
      slice->set_shard_id(part.slice.shard_id());
      slice->set_num_keys(part.keys.size());
      uint64_t shard_clock = 0;
      payload.push_back(
          part.shard->Read(part.keys, encoding, slice->mutable_values(), &shard_clock));
      header.add_shard_clocks(shard_clock);
    }
    *response_ = MakeFrame(header, payload);
    Finish(grpc::Status::OK);
  }

  uint64_t clock = 0;
  // F32 or F16.
  v1::Encoding encoding = v1::ENCODING_F32;
  std::vector<Part> parts;

 private:
  DataPlaneService* const service_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;
};

// Streams a snapshot frame in chunks, one write in flight at a time (gRPC's flow control paces
// it). Each chunk is a ShardSnapshotChunk on the wire: its small fields serialised, then the
// `payload` field's tag and length, then slices of the frame itself (no copy).
class DataPlaneService::SnapshotWriter : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit SnapshotWriter(const grpc::Status& error) { Finish(error); }
  SnapshotWriter(uint32_t table_id, uint32_t shard_id, uint64_t log_index,
                 std::vector<grpc::Slice> frame)
      : frame_(std::move(frame)) {
    fields_.set_table_id(table_id);
    fields_.set_shard_id(shard_id);
    fields_.set_log_index(log_index);
    for (const grpc::Slice& slice : frame_) total_ += slice.size();
    fields_.set_total_bytes(total_);
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the learner went away"));
      return;
    }
    if (sent_ == total_) {
      Finish(grpc::Status::OK);
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    std::vector<grpc::Slice> pieces;
    size_t length = 0;
    while (length < kSnapshotChunkBytes && slice_ < frame_.size()) {
      const grpc::Slice& slice = frame_[slice_];
      const size_t n = std::min(kSnapshotChunkBytes - length, slice.size() - offset_);
      pieces.push_back(slice.sub(offset_, offset_ + n));
      length += n;
      offset_ += n;
      if (offset_ == slice.size()) {
        frame_[slice_] = grpc::Slice();  // Released once the chunk holding it is sent.
        ++slice_;
        offset_ = 0;
      }
    }
    sent_ += length;
    fields_.set_last(sent_ == total_);
    std::string head = fields_.SerializeAsString();
    head.push_back(static_cast<char>((3 << 3) | 2));  // Field 3 (payload), length-delimited.
    for (uint64_t value = length;; value >>= 7) {    // Its length as a varint.
      if (value < 0x80) {
        head.push_back(static_cast<char>(value));
        break;
      }
      head.push_back(static_cast<char>((value & 0x7f) | 0x80));
    }
    pieces.insert(pieces.begin(), grpc::Slice(head));
    chunk_ = grpc::ByteBuffer(pieces.data(), pieces.size());
    StartWrite(&chunk_);
  }

  std::vector<grpc::Slice> frame_;
  size_t slice_ = 0;
  size_t offset_ = 0;
  uint64_t total_ = 0;
  uint64_t sent_ = 0;
  v1::ShardSnapshotChunk fields_;
  grpc::ByteBuffer chunk_;
};

DataPlaneService::DataPlaneService(DataPlaneOptions options)
    : options_(std::move(options)), replicator_(options_.replication_timeout) {
  learner_thread_ = std::thread([this] { LearnerLoop(); });
}

DataPlaneService::~DataPlaneService() { Stop(); }

void DataPlaneService::Stop() {
  {
    absl::MutexLock lock(&learner_mu_);
    learner_stop_ = true;
  }
  if (learner_thread_.joinable()) learner_thread_.join();
  std::vector<ReplicateCall*> parked;
  std::vector<std::shared_ptr<PushProgress>> pushes;
  {
    absl::MutexLock lock(&state_mu_);
    stopping_ = true;
    parked.swap(replicate_waiting_);
    pushes.swap(pushes_waiting_);
  }
  const grpc::Status stopping(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  for (ReplicateCall* call : parked) call->completion()->Finish(stopping);
  for (const auto& push : pushes) push->completion->Finish(stopping);
  absl::MutexLock lock(&waiting_mu_);
  pulls_stopping_ = true;
  for (PullCall* call : waiting_) call->Finish(stopping);
  waiting_.clear();
}

void DataPlaneService::OnClusterMap(const v1::ClusterMap& map, uint32_t self_id) {
  std::vector<ReplicationRequest> requests;
  FinishedCallbacks finished;
  std::vector<ReplicateCall*> parked;
  uint64_t epoch = 0;
  {
    absl::MutexLock lock(&state_mu_);
    if (self_id_ == self_id && !IsNewerMap(map, map_)) return;
    self_id_ = self_id;
    map_ = map;
    epoch = map.epoch();
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
        const std::optional<ReplicaRole> role =
            shard < static_cast<uint32_t>(map.shards_size()) ? RoleIn(map.shards(shard), self_id)
                                                             : std::nullopt;
        const auto it = shards_.find({table_id, shard});
        if (!role.has_value()) {
          if (it != shards_.end()) {
            spdlog::info("table '{}' shard {}: no longer held here at epoch {}",
                         table.spec().name(), shard, epoch);
            shards_.erase(it);
          }
          continue;
        }
        bool fresh = it == shards_.end();
        if (!fresh && *role == ReplicaRole::kLearner) {
          absl::MutexLock shard_lock(&it->second->mu());
          // A replica that is made a learner again copies afresh: its old copy may have diverged.
          fresh = it->second->RoleLocked() != ReplicaRole::kLearner;
        }
        if (fresh) {
          absl::StatusOr<std::unique_ptr<ShardStore>> store =
              ShardStore::Create(table, num_shards, shard);
          if (!store.ok()) {
            spdlog::error("cannot hold table '{}': {}", table.spec().name(),
                          store.status().ToString());
            break;
          }
          shards_[{table_id, shard}] =
              std::make_shared<TableShard>(*std::move(store), *role, epoch, live);
          spdlog::debug("table '{}' shard {}: {} at epoch {}", table.spec().name(), shard,
                        RoleName(*role), epoch);
          continue;
        }
        TableShard& existing = *it->second;
        absl::MutexLock shard_lock(&existing.mu());
        const ReplicaRole before = existing.RoleLocked();
        if (before != *role) {
          existing.SetRoleLocked(*role, epoch, &finished);
          spdlog::info("table '{}' shard {}: {} -> {} at epoch {} (log index {})",
                       table.spec().name(), shard, RoleName(before), RoleName(*role), epoch,
                       existing.LogIndexLocked());
        }
      }
    }
    for (auto& [key, shard] : shards_) {
      std::optional<v1::LogEntry> entry = shard->SetLiveWorkers(live);
      if (!entry.has_value()) continue;
      absl::MutexLock shard_lock(&shard->mu());
      AddEntryLocked(*entry, TargetsLocked(key.second, *shard), {}, &requests);
    }
    parked.swap(replicate_waiting_);
  }
  for (auto& callback : finished) callback();
  if (!requests.empty()) {
    Replicate(std::move(requests), epoch, [](absl::Status, std::vector<ReplicationResult>) {});
  }
  for (ReplicateCall* call : parked) HandleReplicate(call);
  ResolveWaitingPushes();
  // Parked pulls of shards no longer led here go back to the client to re-route.
  std::vector<PullCall*> moved;
  {
    absl::MutexLock lock(&waiting_mu_);
    for (PullCall* call : waiting_) {
      if (!call->StillPrimary()) moved.push_back(call);
    }
    for (PullCall* call : moved) waiting_.erase(call);
  }
  for (PullCall* call : moved) {
    call->context()->AddTrailingMetadata(kEpochTrailer, std::to_string(epoch));
    call->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                              absl::StrCat("the shard moved at epoch ", epoch, "; re-route")));
  }
  ServeReadyPulls();
  absl::MutexLock lock(&learner_mu_);
  ++learner_generation_;
}

absl::Status DataPlaneService::CheckRouting(grpc::CallbackServerContext* context,
                                            uint64_t epoch) {
  if (epoch == map_.epoch()) return absl::OkStatus();
  if (epoch < map_.epoch()) {
    context->AddTrailingMetadata(kEpochTrailer, std::to_string(map_.epoch()));
    return absl::AbortedError(absl::StrCat("request routed with map epoch ", epoch,
                                           "; this server is at epoch ", map_.epoch(),
                                           ": refresh the map and retry"));
  }
  return absl::UnavailableError(absl::StrCat("this server's map (epoch ", map_.epoch(),
                                             ") is behind the request's (epoch ", epoch,
                                             "); retry shortly"));
}

absl::StatusOr<std::shared_ptr<TableShard>> DataPlaneService::PrimaryShardFor(
    grpc::CallbackServerContext* context, const v1::ShardSlice& slice, uint64_t catalog_version) {
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
  const uint32_t primary = static_cast<int>(slice.shard_id()) < map_.shards_size() &&
                                   map_.shards(slice.shard_id()).replicas_size() > 0
                               ? map_.shards(slice.shard_id()).replicas(0)
                               : 0;
  if (primary != self_id_ || it == shards_.end()) {
    // The request's epoch equals ours (CheckRouting), so its map names the same primary: this
    // happens only while a shard store cannot be created. Retrying later may help.
    (void)context;
    return absl::UnavailableError(absl::StrCat("server ", self_id_,
                                               " does not serve shard ", slice.shard_id(),
                                               " at epoch ", map_.epoch(), " (server ", primary,
                                               " leads it)"));
  }
  return it->second;
}

std::vector<uint32_t> DataPlaneService::TargetsLocked(uint32_t shard_id,
                                                      const TableShard& table_shard) const {
  std::vector<uint32_t> targets;
  if (static_cast<int>(shard_id) >= map_.shards_size()) return targets;
  const v1::ShardAssignment& assignment = map_.shards(shard_id);
  for (int i = 1; i < assignment.replicas_size(); ++i) targets.push_back(assignment.replicas(i));
  // Learners only once they asked for their snapshot: entries before it are in the snapshot.
  const auto& forwarded = const_cast<TableShard&>(table_shard).ForwardTargetsLocked();
  for (uint32_t learner : assignment.learners()) {
    if (forwarded.contains(learner)) targets.push_back(learner);
  }
  return targets;
}

void DataPlaneService::AddEntryLocked(const v1::LogEntry& entry,
                                      const std::vector<uint32_t>& targets,
                                      const std::vector<grpc::Slice>& bytes,
                                      std::vector<ReplicationRequest>* requests) {
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

grpc::ServerUnaryReactor* DataPlaneService::Push(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  auto* call = new PushCall();
  auto progress = std::make_shared<PushProgress>();
  progress->completion = call->completion();
  progress->response = response;
  absl::Status applied = ApplyPush(context, *request, progress);
  if (!applied.ok()) {
    spdlog::debug("push rejected: {}", applied.ToString());
    progress->completion->Finish(ToGrpcStatus(applied));
    return call;
  }
  ServeReadyPulls();
  progress->Settle();  // Applied here.
  return call;
}

void DataPlaneService::ReplicatePush(const std::shared_ptr<PushProgress>& progress,
                                     std::vector<ReplicationRequest> requests, uint64_t epoch) {
  if (requests.empty()) {
    progress->Settle();  // Nothing to replicate: no other replicas, or only duplicates.
    return;
  }
  Replicate(std::move(requests), epoch,
            [this, progress](absl::Status error, std::vector<ReplicationResult> failures) {
              if (!error.ok()) {
                progress->completion->Finish(ToGrpcStatus(error));
                return;
              }
              if (failures.empty()) {
                progress->Settle();
                return;
              }
              {
                absl::MutexLock lock(&state_mu_);
                progress->unresolved = std::move(failures);
                pushes_waiting_.push_back(progress);
              }
              ResolveWaitingPushes();
            });
}

absl::Status DataPlaneService::ApplyPush(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer& request,
                                         const std::shared_ptr<PushProgress>& progress_pointer) {
  PushProgress& progress = *progress_pointer;
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(request, &header);
  if (!reader.ok()) return reader.status();
  if (!options_.lease_valid()) {
    return absl::UnavailableError(
        "this server lost its lease with the coordinator and takes no writes until it renews "
        "it (it may have been replaced); refresh the map and retry");
  }
  // The state lock is released before the replication is sent (a failed send may call back at
  // once, and its callback takes the lock); the shard locks are held until the push is applied.
  state_mu_.ReaderLock();
  bool state_locked = true;
  const auto unlock_state = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (state_locked) state_mu_.ReaderUnlock();
    state_locked = false;
  };
  struct Unlocker {
    std::function<void()> unlock;
    ~Unlocker() { unlock(); }
  } unlocker{unlock_state};
  const uint64_t epoch = map_.epoch();
  if (absl::Status routed = CheckRouting(context, header.epoch()); !routed.ok()) return routed;
  const auto worker = live_workers_.find(header.worker_id());
  if (worker == live_workers_.end() || worker->second != header.incarnation()) {
    if (header.membership_version() > map_.membership_version()) {
      return absl::UnavailableError(absl::StrCat(
          "worker ", header.worker_id(), " is not in this server's membership (version ",
          map_.membership_version(), ") yet; the request knows version ",
          header.membership_version(), "; retry"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", header.worker_id(), " incarnation ", header.incarnation(),
                     " is not a live worker (membership version ", map_.membership_version(),
                     "); re-register"));
  }
  std::vector<BoundPush> pushes;
  pushes.reserve(header.slices_size());
  for (int i = 0; i < header.slices_size(); ++i) {
    const v1::ShardSlice& slice = header.slices(i);
    absl::StatusOr<std::shared_ptr<TableShard>> shard =
        PrimaryShardFor(context, slice, header.catalog_version());
    if (!shard.ok()) return shard.status();
    FrameReader start = *reader;
    absl::StatusOr<PushPayload> payload = (*shard)->store().ValidatePush(slice, *reader);
    if (!payload.ok()) return payload.status();
    BoundPush& bound = pushes.emplace_back(BoundPush{*std::move(shard), *std::move(payload),
                                                     slice, {}, static_cast<size_t>(i)});
    // Validation read exactly this slice's bytes; forward them as they arrived.
    start.ReadSlices(start.remaining() - reader->remaining(), &bound.bytes).IgnoreError();
  }
  if (reader->remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the push frame carries ", reader->remaining(), " bytes beyond what its slices describe"));
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
  for (BoundPush& push : pushes) push.shard->mu().Lock();
  absl::Status admitted;
  std::vector<bool> duplicate(pushes.size());
  for (size_t i = 0; i < pushes.size() && admitted.ok(); ++i) {
    if (pushes[i].shard->RoleLocked() != ReplicaRole::kPrimary) {
      admitted = absl::UnavailableError("a shard of the push changed role; retry");
      break;
    }
    absl::StatusOr<bool> seen = pushes[i].shard->AdmitLocked(identity);
    if (seen.ok()) {
      duplicate[i] = *seen;
    } else {
      admitted = seen.status();
    }
  }
  if (!admitted.ok()) {
    for (auto it = pushes.rbegin(); it != pushes.rend(); ++it) it->shard->mu().Unlock();
    return admitted;
  }
  progress.answer.mutable_duplicates()->Resize(header.slices_size(), false);
  bool all_duplicates = !pushes.empty();
  std::vector<ReplicationRequest> requests;
  std::vector<v1::LogEntry> entries(pushes.size());
  for (size_t i = 0; i < pushes.size(); ++i) {
    BoundPush& push = pushes[i];
    progress.answer.set_duplicates(push.request_index, duplicate[i]);
    progress.shard_ids.push_back(push.shard->store().shard_id());
    if (duplicate[i]) {
      // Acknowledged only once every replica holds the log up to here, which includes the
      // original: it may have been applied here and never replicated.
      AddEntryLocked(push.shard->BarrierLocked(),
                     TargetsLocked(push.shard->store().shard_id(), *push.shard), {}, &requests);
      continue;
    }
    all_duplicates = false;
    entries[i] = push.shard->BeginApplyLocked(identity);
    v1::LogEntry forwarded = entries[i];
    *forwarded.mutable_slice() = push.slice;
    AddEntryLocked(forwarded, TargetsLocked(push.shard->store().shard_id(), *push.shard),
                   push.bytes, &requests);
  }
  progress.answer.set_duplicate(all_duplicates);
  unlock_state();
  // The replicas receive and apply the push while this server applies it.
  ReplicatePush(progress_pointer, std::move(requests), epoch);
  for (size_t i = 0; i < pushes.size(); ++i) {
    if (!duplicate[i]) pushes[i].shard->FinishApplyLocked(entries[i], pushes[i].payload);
  }
  for (auto it = pushes.rbegin(); it != pushes.rend(); ++it) it->shard->mu().Unlock();
  return absl::OkStatus();
}

void DataPlaneService::Replicate(
    std::vector<ReplicationRequest> requests, uint64_t epoch,
    std::function<void(absl::Status, std::vector<ReplicationResult>)> done) {
  replicator_.Send(std::move(requests), [this, epoch, done = std::move(done)](
                                            std::vector<ReplicationResult> results) {
    absl::Status error;
    std::vector<ReplicationResult> failures;
    for (ReplicationResult& result : results) {
      if (result.status.ok()) continue;
      if (result.status.code() == absl::StatusCode::kAborted) {
        // The replica's newer map no longer makes this server the primary.
        error = absl::UnavailableError(absl::StrCat("replica ", result.server_id,
                                                    " refused the update: ",
                                                    result.status.message(), "; retry"));
        continue;
      }
      spdlog::warn("replication to server {} for shards [{}] failed: {}; reporting it",
                   result.server_id, absl::StrJoin(result.shard_ids, ", "),
                   result.status.ToString());
      v1::ReportReplicaFailureRequest report;
      report.set_epoch(epoch);
      report.set_failed_server_id(result.server_id);
      for (uint32_t shard : result.shard_ids) report.add_shard_ids(shard);
      report.set_reason(result.status.ToString());
      options_.report_replica_failure(report);
      failures.push_back(std::move(result));
    }
    done(error, std::move(failures));
  });
}

bool DataPlaneService::ReplicaRemovedLocked(uint32_t server,
                                            const std::vector<uint32_t>& shard_ids) const {
  for (uint32_t shard : shard_ids) {
    if (static_cast<int>(shard) >= map_.shards_size()) continue;
    const std::optional<ReplicaRole> role = RoleIn(map_.shards(shard), server);
    if (role.has_value()) return false;
  }
  return true;
}

void DataPlaneService::ResolveWaitingPushes() {
  std::vector<std::shared_ptr<PushProgress>> acknowledged;
  std::vector<std::shared_ptr<PushProgress>> deposed;
  {
    absl::MutexLock lock(&state_mu_);
    auto keep = pushes_waiting_.begin();
    for (auto& push : pushes_waiting_) {
      if (push->completion->Finished()) continue;  // The client gave up.
      bool leads_all = true;
      for (uint32_t shard : push->shard_ids) {
        leads_all = leads_all && static_cast<int>(shard) < map_.shards_size() &&
                    map_.shards(shard).replicas_size() > 0 &&
                    map_.shards(shard).replicas(0) == self_id_;
      }
      if (!leads_all) {
        deposed.push_back(push);
        continue;
      }
      bool resolved = true;
      for (const ReplicationResult& failure : push->unresolved) {
        resolved = resolved && ReplicaRemovedLocked(failure.server_id, failure.shard_ids);
      }
      if (resolved) {
        acknowledged.push_back(push);
      } else {
        *keep++ = push;
      }
    }
    pushes_waiting_.erase(keep, pushes_waiting_.end());
  }
  for (const auto& push : acknowledged) push->Settle();
  for (const auto& push : deposed) {
    push->completion->Finish(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "this server stopped leading a shard of the push before every replica had it; retry"));
  }
}

grpc::ServerUnaryReactor* DataPlaneService::Pull(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  auto* call = new PullCall(this, context, response);
  if (absl::Status prepared = PreparePull(context, *request, call); !prepared.ok()) {
    spdlog::debug("pull rejected: {}", prepared.ToString());
    call->Finish(ToGrpcStatus(prepared));
    return call;
  }
  if (!ParkUnlessReadable(call)) call->Respond();
  return call;
}

absl::Status DataPlaneService::PreparePull(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer& request, PullCall* call) {
  v1::PullRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(request, &header);
  if (!reader.ok()) return reader.status();
  switch (header.value_encoding()) {
    case v1::ENCODING_UNSPECIFIED:
    case v1::ENCODING_F32:
      break;
    case v1::ENCODING_F16:
      call->encoding = v1::ENCODING_F16;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("pulls return F32 or F16 values, not ",
                                                     v1::Encoding_Name(header.value_encoding())));
  }
  if (!options_.lease_valid()) {
    return absl::UnavailableError(
        "this server lost its lease with the coordinator and serves no reads until it renews "
        "it (it may have been replaced); refresh the map and retry");
  }
  absl::ReaderMutexLock state(&state_mu_);
  if (absl::Status routed = CheckRouting(context, header.epoch()); !routed.ok()) return routed;
  call->clock = header.clock();
  for (const v1::ShardSlice& slice : header.slices()) {
    absl::StatusOr<std::shared_ptr<TableShard>> shard =
        PrimaryShardFor(context, slice, header.catalog_version());
    if (!shard.ok()) return shard.status();
    absl::StatusOr<std::vector<uint64_t>> keys = (*shard)->store().ValidatePull(slice, *reader);
    if (!keys.ok()) return keys.status();
    call->parts.push_back(PullCall::Part{*std::move(shard), slice, *std::move(keys)});
  }
  if (reader->remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the pull frame carries ", reader->remaining(), " bytes beyond what its slices describe"));
  }
  return absl::OkStatus();
}

bool DataPlaneService::ParkUnlessReadable(PullCall* call) {
  absl::MutexLock lock(&waiting_mu_);
  if (call->Readable()) return false;
  if (pulls_stopping_) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    return true;
  }
  waiting_.insert(call);
  // A client that left before the call was parked will not be told again (OnCancel ran already).
  if (call->context()->IsCancelled()) {
    waiting_.erase(call);
    call->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the pull"));
  }
  return true;
}

void DataPlaneService::ServeReadyPulls() {
  std::vector<PullCall*> ready;
  {
    absl::MutexLock lock(&waiting_mu_);
    for (PullCall* call : waiting_) {
      if (call->Readable()) ready.push_back(call);
    }
    for (PullCall* call : ready) waiting_.erase(call);
  }
  const bool leased = options_.lease_valid();
  for (PullCall* call : ready) {
    if (leased) {
      call->Respond();
    } else {
      call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "this server lost its lease with the coordinator while the pull "
                                "waited; refresh the map and retry"));
    }
  }
}

void DataPlaneService::CancelWaiting(PullCall* call) {
  absl::MutexLock lock(&waiting_mu_);
  if (waiting_.erase(call) == 0) return;  // Being answered, or never parked.
  call->Finish(grpc::Status(
      grpc::StatusCode::DEADLINE_EXCEEDED,
      absl::StrCat("the pull was still waiting for clock ", call->clock,
                   " (slower workers have not pushed) when the client gave up")));
}

grpc::ServerUnaryReactor* DataPlaneService::Replicate(grpc::CallbackServerContext*,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  auto* call = new ReplicateCall(*request, response);
  HandleReplicate(call);
  return call;
}

void DataPlaneService::HandleReplicate(ReplicateCall* call) {
  const std::shared_ptr<Completion> completion = call->completion();
  v1::ReplicateRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(call->request(), &header);
  if (!reader.ok()) {
    completion->Finish(ToGrpcStatus(reader.status()));
    return;
  }
  std::vector<std::pair<std::shared_ptr<TableShard>, OfferedEntry>> offers;
  {
    absl::MutexLock state(&state_mu_);
    if (stopping_) {
      completion->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
      return;
    }
    if (completion->Finished()) return;  // Cancelled while parked.
    if (header.epoch() > map_.epoch() || header.catalog_version() > map_.catalog_version()) {
      // The sender saw a map this server has not received yet: wait for it, without a thread.
      replicate_waiting_.push_back(call);
      return;
    }
    absl::Status valid;
    for (const v1::LogEntry& entry : header.entries()) {
      const uint32_t shard_id = entry.shard_id();
      const v1::ShardAssignment* assignment =
          static_cast<int>(shard_id) < map_.shards_size() ? &map_.shards(shard_id) : nullptr;
      if (assignment == nullptr || assignment->replicas_size() == 0 ||
          assignment->replicas(0) != header.primary_id()) {
        valid = absl::AbortedError(absl::StrCat(
            "server ", header.primary_id(), " is not the primary of shard ", shard_id,
            " at epoch ", map_.epoch(), assignment != nullptr && assignment->replicas_size() > 0
                                            ? absl::StrCat(" (server ", assignment->replicas(0), " is)")
                                            : std::string()));
        break;
      }
      const auto it = shards_.find({entry.table_id(), shard_id});
      if (it == shards_.end()) {
        valid = absl::FailedPreconditionError(absl::StrCat(
            "server ", self_id_, " holds no replica of table ", entry.table_id(), " shard ",
            shard_id, " at epoch ", map_.epoch()));
        break;
      }
      OfferedEntry offered;
      offered.entry = entry;
      if (entry.barrier() && (entry.has_push() || entry.completions_size() != 0)) {
        valid = absl::InvalidArgumentError(
            absl::StrCat("barrier ", entry.log_index(), " carries an update"));
        break;
      }
      if (entry.has_push()) {
        if (entry.slice().table_id() != entry.table_id() ||
            entry.slice().shard_id() != shard_id) {
          valid = absl::InvalidArgumentError(absl::StrCat(
              "log entry ", entry.log_index(), " carries a slice of table ",
              entry.slice().table_id(), " shard ", entry.slice().shard_id()));
          break;
        }
        absl::StatusOr<PushPayload> payload =
            it->second->store().ValidatePush(entry.slice(), *reader);
        if (!payload.ok()) {
          valid = payload.status();
          break;
        }
        offered.payload = *std::move(payload);
      } else if (entry.completions_size() == 0 && !entry.barrier()) {
        valid = absl::InvalidArgumentError(absl::StrCat(
            "log entry ", entry.log_index(), " carries neither a push, a clock nor a barrier"));
        break;
      }
      offers.emplace_back(it->second, std::move(offered));
    }
    if (valid.ok() && reader->remaining() != 0) {
      valid = absl::InvalidArgumentError(absl::StrCat(
          "the replication frame carries ", reader->remaining(), " bytes beyond its entries"));
    }
    if (!valid.ok()) {
      spdlog::debug("replication refused: {}", valid.ToString());
      completion->Finish(ToGrpcStatus(valid));
      return;
    }
  }
  // Every entry acknowledges into a shared tally; the last one finishes the call.
  struct Tally {
    absl::Mutex mu;
    size_t pending ABSL_GUARDED_BY(mu) = 0;
    absl::Status error ABSL_GUARDED_BY(mu);
    v1::ReplicateResponse answer ABSL_GUARDED_BY(mu);
  };
  auto tally = std::make_shared<Tally>();
  {
    absl::MutexLock lock(&tally->mu);
    tally->pending = offers.size();
    tally->answer.mutable_applied_log_index()->Resize(offers.size(), 0);
  }
  grpc::ByteBuffer* response = call->response();
  if (offers.empty()) {
    completion->Finish(grpc::Status::OK,
                       [&] { *response = SerializeMessage(v1::ReplicateResponse()); });
    return;
  }
  for (size_t i = 0; i < offers.size(); ++i) {
    auto& [shard, offered] = offers[i];
    const uint64_t index = offered.entry.log_index();
    offered.done = [tally, completion, response, i, index](const absl::Status& status) {
      bool last = false;
      absl::Status error;
      v1::ReplicateResponse answer;
      {
        absl::MutexLock lock(&tally->mu);
        if (!status.ok() && tally->error.ok()) tally->error = status;
        tally->answer.set_applied_log_index(i, index);
        last = --tally->pending == 0;
        if (last) {
          error = tally->error;
          answer = tally->answer;
        }
      }
      if (!last) return;
      if (!error.ok()) {
        completion->Finish(ToGrpcStatus(error));
      } else {
        completion->Finish(grpc::Status::OK, [&] { *response = SerializeMessage(answer); });
      }
    };
    FinishedCallbacks finished;
    {
      absl::MutexLock lock(&shard->mu());
      shard->OfferLocked(std::move(offered), &finished);
    }
    for (auto& callback : finished) callback();
  }
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* DataPlaneService::FetchShardSnapshot(
    grpc::CallbackServerContext*, const grpc::ByteBuffer* raw_request) {
  v1::FetchShardSnapshotRequest parsed;
  {
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (raw_request->Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    if (!parsed.ParseFromString(bytes)) {
      return new SnapshotWriter(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             "the snapshot request does not parse"));
    }
  }
  const v1::FetchShardSnapshotRequest* request = &parsed;
  std::shared_ptr<TableShard> shard;
  {
    absl::ReaderMutexLock state(&state_mu_);
    const uint32_t shard_id = request->shard_id();
    if (shard_id >= map_.num_shards() || static_cast<int>(shard_id) >= map_.shards_size()) {
      return new SnapshotWriter(
          grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no shard ", shard_id)));
    }
    if (request->requester_id() != 0) {
      if (request->epoch() > map_.epoch()) {
        return new SnapshotWriter(grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            absl::StrCat("this server's map (epoch ", map_.epoch(), ") is behind the request's (",
                         request->epoch(), "); retry")));
      }
      const v1::ShardAssignment& assignment = map_.shards(shard_id);
      const bool leads = assignment.replicas_size() > 0 && assignment.replicas(0) == self_id_;
      const bool learner = std::find(assignment.learners().begin(), assignment.learners().end(),
                                     request->requester_id()) != assignment.learners().end();
      if (!leads || !learner) {
        return new SnapshotWriter(grpc::Status(
            grpc::StatusCode::ABORTED,
            absl::StrCat("at epoch ", map_.epoch(), " server ", self_id_,
                         leads ? " leads" : " does not lead", " shard ", shard_id, " and server ",
                         request->requester_id(), learner ? " is" : " is not", " its learner")));
      }
    }
    const auto it = shards_.find({request->table_id(), shard_id});
    if (it == shards_.end()) {
      return new SnapshotWriter(grpc::Status(
          grpc::StatusCode::NOT_FOUND, absl::StrCat("server ", self_id_, " holds no table ",
                                                    request->table_id(), " shard ", shard_id)));
    }
    shard = it->second;
  }
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  {
    absl::MutexLock lock(&shard->mu());
    if (!shard->InstalledLocked()) {
      return new SnapshotWriter(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                             "this replica has not installed its snapshot yet"));
    }
    shard->SerializeLocked(&state, &payload);
    if (request->requester_id() != 0) shard->AddForwardTargetLocked(request->requester_id());
  }
  std::vector<grpc::Slice> frame;
  MakeFrame(state, payload).Dump(&frame).IgnoreError();
  if (request->requester_id() != 0) {
    spdlog::info("table {} shard {}: snapshot at log index {} to learner {}", state.table_id(),
                 state.shard_id(), state.log_index(), request->requester_id());
  }
  return new SnapshotWriter(state.table_id(), state.shard_id(), state.log_index(),
                            std::move(frame));
}

grpc::ServerUnaryReactor* DataPlaneService::DescribeShards(grpc::CallbackServerContext* context,
                                                           const v1::DescribeShardsRequest*,
                                                           v1::DescribeShardsResponse* response) {
  std::vector<std::shared_ptr<TableShard>> shards;
  {
    absl::ReaderMutexLock state(&state_mu_);
    response->set_server_id(self_id_);
    response->set_epoch(map_.epoch());
    for (const auto& [key, shard] : shards_) shards.push_back(shard);
  }
  std::sort(shards.begin(), shards.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a->store().table().table_id(), a->store().shard_id()) <
           std::make_pair(b->store().table().table_id(), b->store().shard_id());
  });
  for (const std::shared_ptr<TableShard>& shard : shards) {
    v1::ShardReplicaInfo* info = response->add_replicas();
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
      shard->SerializeLocked(&state, &payload);
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
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void DataPlaneService::LearnerLoop() {
  uint64_t seen_generation = 0;
  while (true) {
    {
      absl::MutexLock lock(&learner_mu_);
      const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_mu_) {
        return learner_stop_ || learner_generation_ != seen_generation;
      };
      learner_mu_.AwaitWithTimeout(absl::Condition(&changed), kLearnerPoll);
      if (learner_stop_) return;
      seen_generation = learner_generation_;
    }
    struct Work {
      uint32_t table_id, shard_id, primary;
      std::string address;
      uint64_t epoch;
    };
    std::vector<Work> work;
    std::vector<uint32_t> learning;  // Shards this server is a learner of.
    uint64_t catalog_version = 0;
    {
      absl::ReaderMutexLock state(&state_mu_);
      catalog_version = map_.catalog_version();
      for (int s = 0; s < map_.shards_size(); ++s) {
        const v1::ShardAssignment& assignment = map_.shards(s);
        if (RoleIn(assignment, self_id_) != ReplicaRole::kLearner ||
            assignment.replicas_size() == 0) {
          continue;
        }
        learning.push_back(assignment.shard_id());
        const auto address = server_addresses_.find(assignment.replicas(0));
        for (const auto& [table_id, table] : tables_) {
          const auto it = shards_.find({table_id, assignment.shard_id()});
          if (it == shards_.end() || address == server_addresses_.end()) continue;
          absl::MutexLock lock(&it->second->mu());
          if (!it->second->InstalledLocked()) {
            work.push_back(Work{table_id, assignment.shard_id(), assignment.replicas(0),
                                address->second, map_.epoch()});
          }
        }
      }
    }
    for (const Work& item : work) {
      absl::Status copied =
          FetchAndInstall(item.table_id, item.shard_id, item.primary, item.address, item.epoch);
      if (!copied.ok()) {
        spdlog::info("learner: table {} shard {} from server {}: {} (will retry)", item.table_id,
                     item.shard_id, item.primary, copied.ToString());
      }
    }
    for (uint32_t shard_id : learning) {
      bool complete = true;
      {
        absl::ReaderMutexLock state(&state_mu_);
        for (const auto& [table_id, table] : tables_) {
          const auto it = shards_.find({table_id, shard_id});
          if (it == shards_.end()) {
            complete = false;
            break;
          }
          absl::MutexLock lock(&it->second->mu());
          complete = complete && it->second->InstalledLocked();
        }
      }
      if (!complete) continue;
      absl::Status reported = options_.report_learner_caught_up(shard_id, catalog_version);
      if (reported.ok()) {
        spdlog::info("learner: shard {} caught up; reported to the coordinator", shard_id);
      } else {
        spdlog::debug("learner: shard {} caught up but the report failed: {}", shard_id,
                      reported.ToString());
      }
    }
  }
}

absl::Status DataPlaneService::FetchAndInstall(uint32_t table_id, uint32_t shard_id,
                                               uint32_t primary, const std::string& address,
                                               uint64_t epoch) {
  uint32_t self = 0;
  {
    absl::ReaderMutexLock state(&state_mu_);
    self = self_id_;
  }
  const absl::Time start = absl::Now();
  std::unique_ptr<v1::ParameterServer::Stub> stub =
      v1::ParameterServer::NewStub(OpenChannel(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.snapshot_timeout));
  v1::FetchShardSnapshotRequest request;
  request.set_epoch(epoch);
  request.set_shard_id(shard_id);
  request.set_table_id(table_id);
  request.set_requester_id(self);
  std::unique_ptr<grpc::ClientReader<v1::ShardSnapshotChunk>> reader =
      stub->FetchShardSnapshot(&context, request);
  // The chunks' payloads are kept as parsed and read in place through borrowed slices.
  std::vector<std::string> pieces;
  v1::ShardSnapshotChunk chunk;
  uint64_t received = 0;
  uint64_t total = 0;
  bool last = false;
  while (reader->Read(&chunk)) {
    total = chunk.total_bytes();
    received += chunk.payload().size();
    pieces.push_back(std::move(*chunk.mutable_payload()));
    last = chunk.last();
  }
  std::vector<grpc::Slice> slices;
  slices.reserve(pieces.size());
  for (const std::string& piece : pieces) slices.push_back(BorrowedSlice(piece.data(), piece.size()));
  if (grpc::Status status = reader->Finish(); !status.ok()) return FromGrpcStatus(status);
  if (!last || received != total) {
    return absl::DataLossError(absl::StrCat("the snapshot stream ended after ", received, " of ",
                                            total, " bytes"));
  }
  const grpc::ByteBuffer frame(slices.data(), slices.size());
  v1::ShardState state;
  absl::StatusOr<FrameReader> payload = FrameReader::Open(frame, &state);
  if (!payload.ok()) return payload.status();
  std::shared_ptr<TableShard> shard;
  {
    absl::ReaderMutexLock lock(&state_mu_);
    const auto it = shards_.find({table_id, shard_id});
    if (it == shards_.end()) return absl::AbortedError("the shard was dropped meanwhile");
    shard = it->second;
  }
  FinishedCallbacks finished;
  absl::Status installed;
  uint64_t log_index = 0;
  {
    absl::MutexLock lock(&shard->mu());
    if (shard->RoleLocked() != ReplicaRole::kLearner || shard->InstalledLocked()) {
      return absl::AbortedError("the shard is no longer a learner waiting for its snapshot");
    }
    installed = shard->InstallLocked(state, *payload, &finished);
    log_index = shard->LogIndexLocked();
  }
  for (auto& callback : finished) callback();
  if (!installed.ok()) return installed;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  spdlog::info("learner: table {} shard {} installed from server {}: {} bytes in {:.3f} s "
               "({:.2f} GB/s), at log index {} (snapshot {})",
               table_id, shard_id, primary, total, seconds,
               seconds > 0 ? total / seconds / 1e9 : 0.0, log_index, state.log_index());
  return absl::OkStatus();
}

}  // namespace ps
