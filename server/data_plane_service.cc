#include "server/data_plane_service.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "server/checkpoint_writer.h"
#include "server/snapshot_sink.h"
#include "spdlog/spdlog.h"

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

// Finishes a call exactly once from any thread, also after the client cancelled: a unary
// reactor, or one message of a PushStream. The reactor deletes itself once finished; this state
// outlives it.
struct Completion {
  absl::Mutex mu;
  // Empty once finished or taken.
  std::function<void(const grpc::Status&)> finish ABSL_GUARDED_BY(mu);

  // Runs `fill` (writing the response) and finishes, unless finished already.
  bool Finish(const grpc::Status& status, const std::function<void()>& fill = nullptr) {
    std::function<void(const grpc::Status&)> to_finish;
    {
      absl::MutexLock lock(&mu);
      if (!finish) return false;
      if (fill) fill();
      to_finish.swap(finish);
    }
    to_finish(status);
    return true;
  }
  bool Finished() {
    absl::MutexLock lock(&mu);
    return !finish;
  }
  // Claims the call to go on with it (a PushPull's pull after its push, a PushStream message's
  // acknowledgement), unless finished already; from then on Finish does nothing.
  bool Take() {
    absl::MutexLock lock(&mu);
    if (!finish) return false;
    finish = nullptr;
    return true;
  }
};

// Points `completion` at `reactor`.
void FinishesReactor(Completion& completion, grpc::ServerUnaryReactor* reactor) {
  absl::MutexLock lock(&completion.mu);
  completion.finish = [reactor](const grpc::Status& status) { reactor->Finish(status); };
}

class CompletionReactor : public grpc::ServerUnaryReactor {
 public:
  CompletionReactor() : completion_(std::make_shared<Completion>()) {
    FinishesReactor(*completion_, this);
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
  // Replicas that failed, waiting for a map without them, and the epoch the push was sent at.
  std::vector<ReplicationResult> unresolved;
  uint64_t replicated_epoch = 0;
  // PushPull: what follows the push's acknowledgement instead of answering (the pull).
  std::function<void(const v1::PushResponse&)> then;
  // When the handler got the request (PushResponse.server_micros).
  absl::Time received = absl::Now();
  // The two things an acknowledgement waits for: this server applied the push, and every replica
  // has it. They finish in either order (the replicas apply while this server does).
  std::atomic<int> unsettled{2};

  void Settle() {
    if (unsettled.fetch_sub(1) != 1) return;
    answer.set_server_micros(absl::ToInt64Microseconds(absl::Now() - received));
    if (then) {
      if (completion->Take()) then(answer);
      return;
    }
    completion->Finish(grpc::Status::OK, [&] { *response = SerializeMessage(answer); });
  }
};

class DataPlaneService::PushCall : public CompletionReactor {};

// A Replicate frame in flight on a backup or learner. The work outlives the reactor, which a
// client's cancellation can finish (and delete) while the work waits for a newer map.
struct DataPlaneService::ReplicateWork {
  std::shared_ptr<Completion> completion;
  grpc::ByteBuffer request;  // Shares the received slices.
  // Valid until the completion is finished: written only by Completion::Finish's fill.
  grpc::ByteBuffer* response = nullptr;
};

// A pull in flight: bound to its shards, possibly parked until they are readable at its clock.
class DataPlaneService::PullCall : public grpc::ServerUnaryReactor, public ParkedPull {
 public:
  using Part = ReplicaSet::PullPart;

  PullCall(DataPlaneService* service, grpc::CallbackServerContext* context,
           grpc::ByteBuffer* response)
      : service_(service), context_(context), response_(response) {}

  void OnCancel() override { service_->CancelWaiting(this); }
  void OnDone() override { delete this; }

  grpc::CallbackServerContext* context() const { return context_; }

  std::vector<const TableShard*> shards() const override {
    std::vector<const TableShard*> shards;
    shards.reserve(parts.size());
    for (const Part& part : parts) shards.push_back(part.shard.get());
    return shards;
  }
  bool Readable() const override {
    for (const Part& part : parts) {
      if (!part.shard->Readable(clock)) return false;
    }
    return true;
  }
  // Whether every part's shard is still led here (not demoted, not dropped by a move).
  bool StillPrimary() const {
    for (const Part& part : parts) {
      absl::MutexLock lock(&part.shard->mu());
      if (part.shard->RoleLocked() != ReplicaRole::kPrimary || part.shard->DroppedLocked()) {
        return false;
      }
    }
    return true;
  }

  // Reads every part and finishes the call.
  void Respond() {
    v1::PushPullResponse fused;
    v1::PullResponse& header = push_answer.has_value() ? *fused.mutable_pull() : own_header_;
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
    if (parked_at_ != absl::InfinitePast()) {
      header.set_parked_micros(absl::ToInt64Microseconds(absl::Now() - parked_at_));
    }
    service_->metrics_.CountPull(header.slices());
    if (push_answer.has_value()) {
      *fused.mutable_push() = *std::move(push_answer);
      *response_ = MakeFrame(fused, payload);
    } else {
      *response_ = MakeFrame(header, payload);
    }
    Finish(grpc::Status::OK);
  }

  // When the pull was parked (PullResponse.parked_micros); written under the service's
  // waiting_mu_ before the call can be answered from another thread.
  void MarkParked() {
    parked_at_ = absl::Now();
    client_ = context_->peer();
  }
  absl::Duration waited() const { return absl::Now() - parked_at_; }
  std::string client() const override { return client_; }

  // PushPull: the answer of the push, set once it was acknowledged; the response carries it.
  std::optional<v1::PushResponse> push_answer;
  uint64_t clock = 0;
  // F32 or F16.
  v1::Encoding encoding = v1::ENCODING_F32;
  std::vector<Part> parts;

 private:
  DataPlaneService* const service_;
  grpc::CallbackServerContext* const context_;
  std::string client_;  // Set when parked.
  grpc::ByteBuffer* const response_;
  v1::PullResponse own_header_;
  absl::Time parked_at_ = absl::InfinitePast();
};

// A PushPull: first a push (finished through its Completion, as a Push), then, once the push is
// acknowledged and the Completion taken, the pull (parked and answered as a Pull).
class DataPlaneService::PushPullCall : public PullCall {
 public:
  PushPullCall(DataPlaneService* service, grpc::CallbackServerContext* context,
               grpc::ByteBuffer* response)
      : PullCall(service, context, response), completion_(std::make_shared<Completion>()) {
    FinishesReactor(*completion_, this);
  }
  const std::shared_ptr<Completion>& completion() const { return completion_; }
  void OnCancel() override {
    // During the push the Completion answers; during the pull, the parked-pull bookkeeping.
    if (!completion_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled"))) {
      PullCall::OnCancel();
    }
  }

 private:
  const std::shared_ptr<Completion> completion_;
};

// A PushStream in flight: its messages are pushes of their own (each applied and replicated as
// it arrives). The call is answered once the client closed the stream and every message it sent
// was acknowledged or failed: OK with every message's duplicates, or the first error. Only the
// reactor's own callbacks finish it (gRPC allows no read after Finish), except a cancellation.
// Shared with the messages' callbacks, which can outlive the reactor.
struct DataPlaneService::PushStreamState {
  absl::Mutex mu;
  grpc::ServerReadReactor<grpc::ByteBuffer>* reactor ABSL_GUARDED_BY(mu) = nullptr;
  grpc::ByteBuffer* response = nullptr;
  const absl::Time received = absl::Now();
  // The push every message belongs to (from the first): they must all agree.
  std::optional<v1::PushRequest> first ABSL_GUARDED_BY(mu);
  // Messages handed to StartPush whose outcome is not in yet.
  int pending ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu) = false;
  absl::Status error ABSL_GUARDED_BY(mu);
  // Per message, its slices' duplicate flags, in message order.
  std::vector<std::vector<bool>> duplicates ABSL_GUARDED_BY(mu);

  // Whether messages still need applying: not after an error (the client retries the whole
  // push) nor once the call ended.
  bool Accepting() {
    absl::MutexLock lock(&mu);
    return reactor != nullptr && error.ok();
  }
  // A message's outcome.
  void Acknowledged(size_t index, const v1::PushResponse& answer) {
    Settle([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      duplicates[index].assign(answer.duplicates().begin(), answer.duplicates().end());
      --pending;
    });
  }
  void Failed(const absl::Status& status) {
    Settle([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (error.ok()) error = status;
      --pending;
    });
  }
  // The client closed the stream (or the call ended).
  void Closed() {
    Settle([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { closed = true; });
  }
  void Cancelled() {
    grpc::ServerReadReactor<grpc::ByteBuffer>* to_finish = nullptr;
    {
      absl::MutexLock lock(&mu);
      std::swap(to_finish, reactor);
    }
    if (to_finish != nullptr) {
      to_finish->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled"));
    }
  }

 private:
  // Applies `change`; once closed with nothing pending, writes the answer and finishes (outside
  // mu: finishing may call back into this state).
  template <typename Change>
  void Settle(Change change) {
    grpc::ServerReadReactor<grpc::ByteBuffer>* to_finish = nullptr;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu);
      change();
      if (reactor == nullptr || !closed || pending > 0) return;
      if (error.ok()) {
        v1::PushResponse answer;
        for (const std::vector<bool>& message : duplicates) {
          for (bool duplicate : message) answer.add_duplicates(duplicate);
        }
        answer.set_duplicate(answer.duplicates_size() > 0 &&
                             std::all_of(answer.duplicates().begin(), answer.duplicates().end(),
                                         [](bool duplicate) { return duplicate; }));
        answer.set_server_micros(absl::ToInt64Microseconds(absl::Now() - received));
        *response = SerializeMessage(answer);
      } else {
        status = ToGrpcStatus(error);
      }
      std::swap(to_finish, reactor);
    }
    to_finish->Finish(status);
  }
};

class DataPlaneService::PushStreamCall : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  // `allowed`: the caller's authorization and stream cap; a refused stream is answered before
  // any read. `client`: the peer whose open stream this is (CloseStream when done); empty when
  // refused.
  PushStreamCall(DataPlaneService* service, grpc::CallbackServerContext* context,
                 grpc::ByteBuffer* response, const grpc::Status& allowed, std::string client)
      : service_(service),
        context_(context),
        state_(std::make_shared<PushStreamState>()),
        client_(std::move(client)) {
    if (!allowed.ok()) {
      Finish(allowed);
      return;
    }
    state_->response = response;
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = this;
    }
    StartRead(&incoming_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed the stream (or the call ended).
      state_->Closed();
      return;
    }
    // Applied before the next read is started: gRPC keeps receiving the next message meanwhile,
    // as far as the stream's flow-control window lets it. After an error the rest is drained
    // unapplied until the client closes the stream and hears the error.
    if (state_->Accepting()) {
      service_->HandlePushStreamMessage(context_, incoming_, state_, next_index_);
    }
    ++next_index_;
    incoming_.Clear();
    StartRead(&incoming_);
  }
  void OnCancel() override { state_->Cancelled(); }
  void OnDone() override {
    if (!client_.empty()) service_->CloseStream(client_);
    delete this;
  }

 private:
  DataPlaneService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<PushStreamState> state_;
  const std::string client_;
  grpc::ByteBuffer incoming_;
  size_t next_index_ = 0;
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
    for (uint64_t value = length;; value >>= 7) {     // Its length as a varint.
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
    : options_(std::move(options)),
      memory_quota_(options_.memory),
      replicas_(&memory_quota_),
      authorizer_(v1::ParameterServer::service_full_name(), options_.security),
      replicator_(options_.replication_timeout, options_.security) {
  learner_thread_ = std::thread([this] { LearnerLoop(); });
  handoff_thread_ = std::thread([this] { HandoffLoop(); });
  metrics_collector_ = GlobalMetrics().AddCollector([this](Exposition& out) {
    size_t parked;
    {
      absl::MutexLock lock(&waiting_mu_);
      parked = parked_.size();
    }
    metrics_.Collect(replicas_.Summaries(), parked, out);
  });
}

DataPlaneService::~DataPlaneService() {
  GlobalMetrics().RemoveCollector(metrics_collector_);
  Stop();
}

void DataPlaneService::Stop() {
  {
    absl::MutexLock lock(&learner_mu_);
    learner_stop_ = true;
  }
  if (learner_thread_.joinable()) learner_thread_.join();
  {
    absl::MutexLock lock(&handoff_mu_);
    handoff_stop_ = true;
  }
  if (handoff_thread_.joinable()) handoff_thread_.join();
  checkpoint_cancelled_.store(true);
  std::thread checkpoint;
  {
    absl::MutexLock lock(&checkpoint_mu_);
    checkpoint.swap(checkpoint_thread_);
  }
  // Outside the lock, which the thread takes as it finishes.
  if (checkpoint.joinable()) checkpoint.join();
  std::vector<std::shared_ptr<ReplicateWork>> parked;
  std::vector<std::shared_ptr<PushProgress>> pushes;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    parked.swap(replicate_waiting_);
    pushes.swap(pushes_waiting_);
  }
  const grpc::Status stopping(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  for (const auto& work : parked) work->completion->Finish(stopping);
  for (const auto& push : pushes) push->completion->Finish(stopping);
  absl::MutexLock lock(&waiting_mu_);
  pulls_stopping_ = true;
  for (ParkedPull* pull : parked_.TakeAll()) static_cast<PullCall*>(pull)->Finish(stopping);
}

void DataPlaneService::OnClusterMap(const v1::ClusterMap& map, uint32_t self_id) {
  metrics_.SetTables(map);
  ReplicaSet::Adoption adoption = replicas_.AdoptMap(map, self_id);
  if (!adoption.adopted) return;
  for (auto& callback : adoption.finished) callback();
  if (!adoption.requests.empty()) {
    Replicate(std::move(adoption.requests), adoption.epoch,
              [](absl::Status, std::vector<ReplicationResult>) {});
  }
  std::vector<std::shared_ptr<ReplicateWork>> parked;
  {
    absl::MutexLock lock(&mu_);
    parked.swap(replicate_waiting_);
  }
  for (const auto& work : parked) HandleReplicate(work);
  ResolveWaitingPushes();
  // Parked pulls of shards no longer led here go back to the client to re-route.
  std::vector<ParkedPull*> moved;
  std::vector<ParkedPull*> ready;
  {
    absl::MutexLock lock(&waiting_mu_);
    moved = parked_.TakeIf(
        [](const ParkedPull& pull) { return !static_cast<const PullCall&>(pull).StillPrimary(); });
    // Membership changed too: a worker that left no longer holds a BSP clock back.
    ready = parked_.TakeIf([](const ParkedPull& pull) { return pull.Readable(); });
  }
  for (ParkedPull* pull : moved) {
    PullCall* call = static_cast<PullCall*>(pull);
    call->context()->AddTrailingMetadata(kEpochTrailer, std::to_string(adoption.epoch));
    call->Finish(
        grpc::Status(grpc::StatusCode::ABORTED,
                     absl::StrCat("the shard moved at epoch ", adoption.epoch, "; re-route")));
  }
  AnswerUnparked(ready);
  WakeHandoffs();
  absl::MutexLock lock(&learner_mu_);
  ++learner_generation_;
}

grpc::ServerUnaryReactor* DataPlaneService::Push(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  auto* call = new PushCall();
  auto progress = std::make_shared<PushProgress>();
  progress->completion = call->completion();
  progress->response = response;
  if (grpc::Status allowed = authorizer_.Check(*context, "Push"); !allowed.ok()) {
    progress->completion->Finish(allowed);
    return call;
  }
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(*request, &header);
  if (!reader.ok()) {
    FailPush(context, *progress, reader.status(), 0);
    return call;
  }
  StartPush(context, header, *reader, progress);
  return call;
}

void DataPlaneService::FailPush(grpc::CallbackServerContext* context, PushProgress& progress,
                                const absl::Status& status, uint64_t refresh_epoch) {
  spdlog::debug("push rejected: {}", status.ToString());
  if (refresh_epoch != 0) {
    context->AddTrailingMetadata(kEpochTrailer, std::to_string(refresh_epoch));
  }
  progress.completion->Finish(ToGrpcStatus(status));
}

void DataPlaneService::StartPush(grpc::CallbackServerContext* context,
                                 const v1::PushRequest& header, FrameReader& reader,
                                 const std::shared_ptr<PushProgress>& progress) {
  if (!options_.lease_valid()) {
    FailPush(context, *progress,
             absl::UnavailableError(
                 "this server lost its lease with the coordinator and takes no writes until it "
                 "renews it (it may have been replaced); refresh the map and retry"),
             0);
    return;
  }
  RoutedError routed;
  absl::StatusOr<ReplicaSet::PushOutcome> outcome = replicas_.ApplyPush(
      header, reader,
      [&](std::vector<ReplicationRequest> requests, const ReplicaSet::PushOutcome& decided) {
        // Set before the replication starts: its callbacks read them.
        progress->answer = decided.answer;
        progress->shard_ids = decided.shard_ids;
        ReplicatePush(progress, std::move(requests), decided.epoch);
      },
      &routed);
  if (!outcome.ok()) {
    FailPush(context, *progress, outcome.status(), routed.refresh_epoch);
    return;
  }
  metrics_.CountPush(header);
  ServeReadyPulls(outcome->shards);
  progress->Settle();  // Applied here.
}

grpc::ServerUnaryReactor* DataPlaneService::PushPull(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  auto* call = new PushPullCall(this, context, response);
  auto progress = std::make_shared<PushProgress>();
  progress->completion = call->completion();
  if (grpc::Status allowed = authorizer_.Check(*context, "PushPull"); !allowed.ok()) {
    progress->completion->Finish(allowed);
    return call;
  }
  v1::PushPullRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(*request, &header);
  if (!reader.ok()) {
    FailPush(context, *progress, reader.status(), 0);
    return call;
  }
  // The pull's keys come first (see Frames in the proto).
  absl::StatusOr<FrameReader> pull_keys = SplitPullKeys(header.pull(), *reader);
  if (!pull_keys.ok()) {
    FailPush(context, *progress, pull_keys.status(), 0);
    return call;
  }
  // The pull is checked and bound before the push changes anything: a refused pull refuses both.
  if (absl::Status bound = BindPull(context, header.pull(), *pull_keys, call); !bound.ok()) {
    FailPush(context, *progress, bound, 0);
    return call;
  }
  progress->then = [this, call](const v1::PushResponse& answer) {
    call->push_answer = answer;
    if (!call->StillPrimary()) {
      // Applied, but a new map moved a shard of the pull: the client re-routes and retries,
      // and the retried push is acknowledged as a duplicate.
      const uint64_t epoch = replicas_.epoch();
      call->context()->AddTrailingMetadata(kEpochTrailer, std::to_string(epoch));
      call->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                                absl::StrCat("the pull's shard moved at epoch ", epoch,
                                             " after the push was applied; re-route")));
      return;
    }
    if (!ParkUnlessReadable(call)) call->Respond();
  };
  StartPush(context, header.push(), *reader, progress);
  return call;
}

void DataPlaneService::ReplicatePush(const std::shared_ptr<PushProgress>& progress,
                                     std::vector<ReplicationRequest> requests, uint64_t epoch) {
  if (requests.empty()) {
    progress->Settle();  // No other replicas.
    return;
  }
  progress->replicated_epoch = epoch;
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
                absl::MutexLock lock(&mu_);
                progress->unresolved = std::move(failures);
                pushes_waiting_.push_back(progress);
              }
              ResolveWaitingPushes();
            });
}

void DataPlaneService::Replicate(
    std::vector<ReplicationRequest> requests, uint64_t epoch,
    std::function<void(absl::Status, std::vector<ReplicationResult>)> done) {
  std::set<uint32_t> shards;
  for (const ReplicationRequest& request : requests) {
    for (const v1::LogEntry& entry : request.header.entries()) shards.insert(entry.shard_id());
  }
  {
    absl::MutexLock lock(&handoff_mu_);
    for (uint32_t shard : shards) ++replicating_[shard];
  }
  // Runs when the call below is settled, after its own callback. It may run inside `send` of
  // ApplyPush, with shard locks held: it takes only handoff_mu_, a leaf.
  auto settled = [this, shards] {
    absl::MutexLock lock(&handoff_mu_);
    for (uint32_t shard : shards) {
      if (--replicating_[shard] != 0) continue;
      replicating_.erase(shard);
      // A sealed shard with nothing in flight any more: the handoff thread reports it.
      if (sealed_led_.count(shard) > 0) ++handoff_generation_;
    }
  };
  done = [settled = std::move(settled), done = std::move(done)](
             absl::Status error, std::vector<ReplicationResult> failures) {
    done(std::move(error), std::move(failures));
    settled();
  };
  uint64_t bytes = 0;
  for (const ReplicationRequest& request : requests) {
    bytes += request.header.ByteSizeLong();
    for (const grpc::Slice& slice : request.payload) bytes += slice.size();
  }
  const absl::Time sent = absl::Now();
  replicator_.Send(std::move(requests), [this, epoch, bytes, sent, done = std::move(done)](
                                            std::vector<ReplicationResult> results) {
    int failed = 0;
    for (const ReplicationResult& result : results) failed += !result.status.ok();
    metrics_.CountReplication(bytes, absl::Now() - sent, failed);
    absl::Status error;
    std::vector<ReplicationResult> failures;
    for (ReplicationResult& result : results) {
      if (result.status.ok()) continue;
      if (result.status.code() == absl::StatusCode::kAborted) {
        // The replica's newer map no longer makes this server the primary.
        error = absl::UnavailableError(
            absl::StrCat("replica ", result.server_id,
                         " refused the update: ", result.status.message(), "; retry"));
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

void DataPlaneService::WakeHandoffs() {
  absl::MutexLock lock(&handoff_mu_);
  ++handoff_generation_;
}

void DataPlaneService::HandoffLoop() {
  uint64_t seen_generation = 0;
  while (true) {
    {
      absl::MutexLock lock(&handoff_mu_);
      const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(handoff_mu_) {
        return handoff_stop_ || handoff_generation_ != seen_generation;
      };
      handoff_mu_.AwaitWithTimeout(absl::Condition(&changed), kLearnerPoll);
      if (handoff_stop_) return;
      seen_generation = handoff_generation_;
    }
    // With no lock held: SealedShardsLed() waits for pushes admitted before the seal.
    const std::vector<uint32_t> sealed = replicas_.SealedShardsLed();
    const uint64_t epoch = replicas_.epoch();
    std::vector<uint32_t> ready;
    {
      absl::MutexLock lock(&handoff_mu_);
      sealed_led_ = std::set<uint32_t>(sealed.begin(), sealed.end());
      for (uint32_t shard : sealed) {
        if (!replicating_.contains(shard) && handoffs_reported_.insert({shard, epoch}).second) {
          ready.push_back(shard);
        }
      }
    }
    for (uint32_t shard : ready) {
      spdlog::info("shard {}: every replica has every entry sent; ready to hand it over (epoch {})",
                   shard, epoch);
      options_.report_handoff_ready(shard, epoch);
    }
  }
}

void DataPlaneService::ResolveWaitingPushes() {
  std::vector<std::shared_ptr<PushProgress>> acknowledged;
  std::vector<std::shared_ptr<PushProgress>> deposed;
  {
    absl::MutexLock lock(&mu_);
    auto keep = pushes_waiting_.begin();
    for (auto& push : pushes_waiting_) {
      if (push->completion->Finished()) continue;  // The client gave up.
      switch (replicas_.Resolve(push->shard_ids, push->unresolved, push->replicated_epoch)) {
        case ReplicaSet::Resolution::kAcknowledge:
          acknowledged.push_back(push);
          break;
        case ReplicaSet::Resolution::kDeposed:
          deposed.push_back(push);
          break;
        case ReplicaSet::Resolution::kWaiting:
          *keep++ = push;
          break;
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
  if (grpc::Status allowed = authorizer_.Check(*context, "Pull"); !allowed.ok()) {
    call->Finish(allowed);
    return call;
  }
  if (absl::Status prepared = PreparePull(context, *request, call); !prepared.ok()) {
    spdlog::debug("pull rejected: {}", prepared.ToString());
    call->Finish(ToGrpcStatus(prepared));
    return call;
  }
  if (!ParkUnlessReadable(call)) call->Respond();
  return call;
}

grpc::ServerReadReactor<grpc::ByteBuffer>* DataPlaneService::PushStream(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  grpc::Status allowed = authorizer_.Check(*context, "PushStream");
  std::string client;
  if (allowed.ok()) {
    client = context->peer();
    allowed = OpenStream(client);
    if (!allowed.ok()) client.clear();
  }
  return new PushStreamCall(this, context, response, allowed, std::move(client));
}

grpc::Status DataPlaneService::OpenStream(const std::string& client) {
  absl::MutexLock lock(&streams_mu_);
  int& open = streams_by_client_[client];
  if (open >= options_.max_streams_per_client) {
    if (open == 0) streams_by_client_.erase(client);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(client, " has ", open, " push streams open here, its cap (",
                                     "ps_server --max_streams_per_client); finish one first"));
  }
  ++open;
  return grpc::Status::OK;
}

void DataPlaneService::CloseStream(const std::string& client) {
  absl::MutexLock lock(&streams_mu_);
  const auto found = streams_by_client_.find(client);
  if (found != streams_by_client_.end() && --found->second == 0) streams_by_client_.erase(found);
}

void DataPlaneService::HandlePushStreamMessage(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer& frame,
                                               const std::shared_ptr<PushStreamState>& state,
                                               size_t index) {
  {
    absl::MutexLock lock(&state->mu);
    ++state->pending;  // Settled exactly once below: acknowledged or failed.
    state->duplicates.resize(std::max(state->duplicates.size(), index + 1));
  }
  auto progress = std::make_shared<PushProgress>();
  progress->completion = std::make_shared<Completion>();
  {
    absl::MutexLock lock(&progress->completion->mu);
    progress->completion->finish = [state](const grpc::Status& status) {
      state->Failed(FromGrpcStatus(status));
    };
  }
  progress->then = [state, index](const v1::PushResponse& answer) {
    state->Acknowledged(index, answer);
  };
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
  if (!reader.ok()) {
    FailPush(context, *progress, reader.status(), 0);
    return;
  }
  absl::Status same_push;
  {
    absl::MutexLock lock(&state->mu);
    if (!state->first.has_value()) state->first = header;
    const v1::PushRequest& first = *state->first;
    if (header.worker_id() != first.worker_id() || header.incarnation() != first.incarnation() ||
        header.seq() != first.seq() || header.clock() != first.clock()) {
      same_push = absl::InvalidArgumentError(absl::StrCat(
          "message ", index, " of the push stream is of another push (worker ", header.worker_id(),
          " seq ", header.seq(), " clock ", header.clock(), "; the stream's first message: worker ",
          first.worker_id(), " seq ", first.seq(), " clock ", first.clock(), ")"));
    }
  }
  if (!same_push.ok()) {
    FailPush(context, *progress, same_push, 0);
    return;
  }
  StartPush(context, header, *reader, progress);
}

absl::Status DataPlaneService::PreparePull(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer& request, PullCall* call) {
  v1::PullRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(request, &header);
  if (!reader.ok()) return reader.status();
  return BindPull(context, header, *reader, call);
}

absl::Status DataPlaneService::BindPull(grpc::CallbackServerContext* context,
                                        const v1::PullRequest& header, FrameReader& reader,
                                        PullCall* call) {
  absl::StatusOr<v1::Encoding> encoding = PullAnswerEncoding(header);
  if (!encoding.ok()) return encoding.status();
  call->encoding = *encoding;
  if (!options_.lease_valid()) {
    return absl::UnavailableError(
        "this server lost its lease with the coordinator and serves no reads until it renews "
        "it (it may have been replaced); refresh the map and retry");
  }
  RoutedError routed;
  absl::StatusOr<std::vector<ReplicaSet::PullPart>> parts =
      replicas_.BindPull(header, reader, &routed);
  if (!parts.ok()) {
    if (routed.refresh_epoch != 0) {
      context->AddTrailingMetadata(kEpochTrailer, std::to_string(routed.refresh_epoch));
    }
    return parts.status();
  }
  call->clock = header.clock();
  call->parts = *std::move(parts);
  return absl::OkStatus();
}

bool DataPlaneService::ParkUnlessReadable(PullCall* call) {
  absl::MutexLock lock(&waiting_mu_);
  if (call->Readable()) return false;
  if (pulls_stopping_) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    return true;
  }
  // A map that moved one of its shards away may have been adopted since the pull was bound, after
  // OnClusterMap re-routed the parked pulls: parked now, nothing would ever wake it.
  if (!call->StillPrimary()) {
    const uint64_t epoch = replicas_.epoch();
    call->context()->AddTrailingMetadata(kEpochTrailer, std::to_string(epoch));
    call->Finish(
        grpc::Status(grpc::StatusCode::ABORTED,
                     absl::StrCat("the pull's shard moved at epoch ", epoch, "; re-route")));
    return true;
  }
  call->MarkParked();
  // Parked pulls hold memory until slower workers push: bounded per client and in all.
  if (parked_.size() >= options_.max_parked_pulls ||
      parked_.ParkedBy(call->client()) >= options_.max_parked_pulls_per_client) {
    call->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("this server holds ", parked_.size(), " waiting pulls, ",
                     parked_.ParkedBy(call->client()), " of them from ", call->client(), " (caps: ",
                     options_.max_parked_pulls, " in all, ", options_.max_parked_pulls_per_client,
                     " per client; ps_server --max_parked_pulls); retry later")));
    return true;
  }
  parked_.Park(call);
  // A client that left before the call was parked will not be told again (OnCancel ran already).
  if (call->context()->IsCancelled()) {
    parked_.Remove(call);
    call->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the pull"));
  }
  return true;
}

void DataPlaneService::ServeReadyPulls(absl::Span<const TableShard* const> touched) {
  std::vector<ParkedPull*> ready;
  {
    absl::MutexLock lock(&waiting_mu_);
    ready = parked_.TakeReady(touched);
  }
  AnswerUnparked(ready);
}

void DataPlaneService::AnswerUnparked(const std::vector<ParkedPull*>& pulls) {
  if (pulls.empty()) return;
  const bool leased = options_.lease_valid();
  for (ParkedPull* pull : pulls) {
    PullCall* call = static_cast<PullCall*>(pull);
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
  if (!parked_.Remove(call)) return;  // Being answered, or never parked.
  // What it waited for, shard by shard: the operator's (and the client's) first question.
  std::vector<std::string> waits;
  for (const auto& part : call->parts) waits.push_back(part.shard->DescribeWait(call->clock));
  const std::string waited = absl::StrJoin(waits, "; ");
  spdlog::warn("a pull at clock {} from {} gave up after {:.1f} s waiting: {}", call->clock,
               call->context()->peer(), absl::ToDoubleSeconds(call->waited()), waited);
  call->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            absl::StrCat("the pull was still waiting for clock ", call->clock,
                                         " (slower workers have not pushed) when the client "
                                         "gave up: ",
                                         waited)));
}

grpc::ServerUnaryReactor* DataPlaneService::Replicate(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  auto* call = new CompletionReactor();
  if (grpc::Status allowed = authorizer_.Check(*context, "Replicate"); !allowed.ok()) {
    call->completion()->Finish(allowed);
    return call;
  }
  auto work = std::make_shared<ReplicateWork>();
  work->completion = call->completion();
  work->request = *request;
  work->response = response;
  HandleReplicate(work);
  return call;
}

void DataPlaneService::HandleReplicate(const std::shared_ptr<ReplicateWork>& work) {
  const std::shared_ptr<Completion>& completion = work->completion;
  if (completion->Finished()) return;  // Cancelled while parked.
  v1::ReplicateRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(work->request, &header);
  if (!reader.ok()) {
    completion->Finish(ToGrpcStatus(reader.status()));
    return;
  }
  absl::StatusOr<std::optional<ReplicaSet::Offers>> taken;
  {
    // Under mu_ so that a map adopted meanwhile cannot miss this call when it is parked.
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      completion->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
      return;
    }
    taken = replicas_.TakeReplicate(header, *reader);
    if (taken.ok() && !taken->has_value()) {
      // The sender saw a map this server has not received yet: wait for it, without a thread.
      replicate_waiting_.push_back(work);
      return;
    }
  }
  if (!taken.ok()) {
    spdlog::debug("replication refused: {}", taken.status().ToString());
    completion->Finish(ToGrpcStatus(taken.status()));
    return;
  }
  ReplicaSet::Offers& offers = **taken;
  grpc::ByteBuffer* response = work->response;
  if (offers.empty()) {
    completion->Finish(grpc::Status::OK,
                       [&] { *response = SerializeMessage(v1::ReplicateResponse()); });
    return;
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
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  if (grpc::Status allowed = authorizer_.Check(*context, "FetchShardSnapshot"); !allowed.ok()) {
    return new SnapshotWriter(allowed);
  }
  v1::FetchShardSnapshotRequest request;
  if (!ParseMessage(*raw_request, &request)) {
    return new SnapshotWriter(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the snapshot request does not parse"));
  }
  absl::StatusOr<ReplicaSet::Snapshot> snapshot = replicas_.TakeSnapshot(request);
  if (!snapshot.ok()) return new SnapshotWriter(ToGrpcStatus(snapshot.status()));
  if (request.requester_id() != 0) {
    spdlog::info("table {} shard {}: snapshot at log index {} to learner {}",
                 snapshot->state.table_id(), snapshot->state.shard_id(),
                 snapshot->state.log_index(), request.requester_id());
  }
  return new SnapshotWriter(snapshot->state.table_id(), snapshot->state.shard_id(),
                            snapshot->state.log_index(), std::move(snapshot->frame));
}

grpc::ServerUnaryReactor* DataPlaneService::DescribeShards(grpc::CallbackServerContext* context,
                                                           const v1::DescribeShardsRequest*,
                                                           v1::DescribeShardsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status allowed = authorizer_.Check(*context, "DescribeShards"); !allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  *response = replicas_.Describe();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DataPlaneService::Checkpoint(grpc::CallbackServerContext* context,
                                                       const v1::CheckpointRequest* request,
                                                       v1::CheckpointResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status allowed = authorizer_.Check(*context, "Checkpoint"); !allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  absl::MutexLock lock(&checkpoint_mu_);
  if (checkpoint_running_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                                 "another checkpoint is being written by this server"));
    return reactor;
  }
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();  // Finished: it cleared running.
  checkpoint_running_ = true;
  // Bounds the wait for BSP cuts (not the writing).
  const absl::Time deadline = std::min(absl::FromChrono(context->deadline()),
                                       absl::Now() + options_.checkpoint_cut_timeout);
  checkpoint_thread_ = std::thread([this, reactor, request, response, deadline] {
    absl::StatusOr<v1::CheckpointResponse> written = WriteCheckpointShards(
        replicas_, *request, deadline, [this] { return checkpoint_cancelled_.load(); });
    if (!written.ok()) {
      spdlog::error("checkpoint {}: {}", request->checkpoint_id(), written.status().ToString());
    } else {
      *response = *std::move(written);
    }
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_running_ = false;
    }
    reactor->Finish(written.ok() ? grpc::Status::OK : ToGrpcStatus(written.status()));
  });
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
    for (const ReplicaSet::SnapshotToFetch& item : replicas_.SnapshotsToFetch()) {
      if (absl::Status copied = FetchAndInstall(item); !copied.ok()) {
        spdlog::info("learner: table {} shard {} from server {}: {} (will retry)", item.table_id,
                     item.shard_id, item.primary, copied.ToString());
      }
    }
    uint64_t catalog_version = 0;
    for (uint32_t shard_id : replicas_.CaughtUpShards(&catalog_version)) {
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

absl::Status DataPlaneService::FetchAndInstall(const ReplicaSet::SnapshotToFetch& item) {
  const absl::Time start = absl::Now();
  std::unique_ptr<v1::ParameterServer::Stub> stub =
      v1::ParameterServer::NewStub(OpenChannel(item.primary_address, *options_.security));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.snapshot_timeout));
  v1::FetchShardSnapshotRequest request;
  request.set_epoch(item.epoch);
  request.set_shard_id(item.shard_id);
  request.set_table_id(item.table_id);
  request.set_requester_id(replicas_.self_id());
  std::unique_ptr<grpc::ClientReader<v1::ShardSnapshotChunk>> reader =
      stub->FetchShardSnapshot(&context, request);
  absl::StatusOr<std::shared_ptr<TableShard>> shard =
      replicas_.LearnerShard(item.table_id, item.shard_id);
  if (!shard.ok()) return shard.status();
  SnapshotSink sink(*std::move(shard));
  v1::ShardSnapshotChunk chunk;  // Reused: its payload's memory stays warm across chunks.
  uint64_t total = 0;
  bool last = false;
  absl::Status taken;
  while (reader->Read(&chunk)) {
    total = chunk.total_bytes();
    last = chunk.last();
    if (taken.ok()) taken = sink.Add(chunk.payload());
    if (!taken.ok()) context.TryCancel();
  }
  const grpc::Status status = reader->Finish();
  if (!taken.ok()) return taken;
  if (!status.ok()) return FromGrpcStatus(status);
  if (!last || sink.bytes_received() != total) {
    return absl::DataLossError(absl::StrCat("the snapshot stream ended after ",
                                            sink.bytes_received(), " of ", total, " bytes"));
  }
  FinishedCallbacks finished;
  const absl::Status installed = sink.Finish(&finished);
  for (auto& callback : finished) callback();
  if (!installed.ok()) return installed;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  spdlog::info(
      "learner: table {} shard {} installed from server {}: {} bytes in {:.3f} s "
      "({:.2f} GB/s)",
      item.table_id, item.shard_id, item.primary, total, seconds,
      seconds > 0 ? total / seconds / 1e9 : 0.0);
  return absl::OkStatus();
}

}  // namespace ps
