#include "server/data_plane_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/frame.h"
#include "common/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr char kEpochTrailer[] = "ps-epoch";

grpc::ByteBuffer SerializeMessage(const google::protobuf::MessageLite& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

const char* ModelName(v1::ConsistencySpec::Model model) {
  switch (model) {
    case v1::ConsistencySpec::MODEL_BSP:
      return "BSP";
    case v1::ConsistencySpec::MODEL_SSP:
      return "SSP";
    default:
      return "ASP";
  }
}

}  // namespace

// A pull in flight: bound to its shards, possibly parked until they are readable at its clock.
class DataPlaneService::PullCall : public grpc::ServerUnaryReactor {
 public:
  struct Part {
    TableShard* shard;
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

DataPlaneService::~DataPlaneService() { FinishWaitingPulls(); }

void DataPlaneService::OnClusterMap(const v1::ClusterMap& map, uint32_t self_id) {
  {
    absl::MutexLock lock(&state_mu_);
    if (map.epoch() < epoch_ ||
        (map.epoch() == epoch_ && map.catalog_version() <= catalog_version_ && self_id_ != 0)) {
      return;
    }
    self_id_ = self_id;
    epoch_ = map.epoch();
    catalog_version_ = map.catalog_version();
    num_shards_ = map.num_shards();
    primaries_.assign(num_shards_, 0);
    for (const v1::ShardAssignment& shard : map.shards()) {
      if (shard.shard_id() < num_shards_ && shard.replicas_size() > 0) {
        primaries_[shard.shard_id()] = shard.replicas(0);
      }
    }
    live_workers_.clear();
    absl::flat_hash_set<uint32_t> live;
    for (const v1::WorkerInfo& worker : map.workers()) {
      if (worker.state() != v1::MEMBER_STATE_ALIVE) continue;
      live_workers_[worker.worker_id()] = worker.incarnation();
      live.insert(worker.worker_id());
    }
    for (const v1::TableInfo& table : map.tables()) {
      tables_[table.table_id()] = table;
      std::vector<uint32_t> created;
      for (uint32_t shard = 0; shard < num_shards_; ++shard) {
        if (primaries_[shard] != self_id_ || shards_.contains({table.table_id(), shard})) continue;
        absl::StatusOr<std::unique_ptr<ShardStore>> store =
            ShardStore::Create(table, num_shards_, shard);
        if (!store.ok()) {
          spdlog::error("cannot serve {}: {}", table.spec().name(), store.status().ToString());
          break;
        }
        shards_[{table.table_id(), shard}] =
            std::make_unique<TableShard>(*std::move(store), live);
        created.push_back(shard);
      }
      if (!created.empty()) {
        spdlog::info("table '{}' (id {}, {} {}): now leading {} shard(s), first {}",
                     table.spec().name(), table.table_id(),
                     table.spec().kind() == v1::TABLE_KIND_DENSE ? "dense" : "sparse",
                     ModelName(table.spec().consistency().model()), created.size(),
                     created.front());
      }
    }
    for (auto& [key, shard] : shards_) shard->SetLiveWorkers(live);
  }
  ServeReadyPulls();
}

absl::Status DataPlaneService::CheckRouting(grpc::CallbackServerContext* context,
                                            uint64_t epoch) {
  if (epoch == epoch_) return absl::OkStatus();
  context->AddTrailingMetadata(kEpochTrailer, std::to_string(epoch_));
  return absl::AbortedError(absl::StrCat("request routed with map epoch ", epoch,
                                         "; this server is at epoch ", epoch_,
                                         ": refresh the map and retry"));
}

absl::StatusOr<TableShard*> DataPlaneService::ShardFor(grpc::CallbackServerContext* context,
                                                       const v1::ShardSlice& slice,
                                                       uint64_t catalog_version) {
  if (!tables_.contains(slice.table_id())) {
    if (catalog_version > catalog_version_) {
      return absl::UnavailableError(absl::StrCat(
          "table id ", slice.table_id(), " is not in this server's catalog (version ",
          catalog_version_, ") yet; the request knows version ", catalog_version, "; retry"));
    }
    return absl::NotFoundError(absl::StrCat("no table with id ", slice.table_id()));
  }
  if (slice.shard_id() >= num_shards_) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", slice.shard_id(),
                                                   " does not exist (the cluster has ",
                                                   num_shards_, " shards)"));
  }
  const auto it = shards_.find({slice.table_id(), slice.shard_id()});
  if (primaries_[slice.shard_id()] != self_id_ || it == shards_.end()) {
    context->AddTrailingMetadata(kEpochTrailer, std::to_string(epoch_));
    return absl::AbortedError(absl::StrCat("server ", self_id_, " is not the primary of shard ",
                                           slice.shard_id(), " at epoch ", epoch_,
                                           " (server ", primaries_[slice.shard_id()], " is)"));
  }
  return it->second.get();
}

grpc::ServerUnaryReactor* DataPlaneService::Push(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<bool> duplicate = ApplyPush(context, *request);
  if (!duplicate.ok()) {
    spdlog::debug("push rejected: {}", duplicate.status().ToString());
    reactor->Finish(ToGrpcStatus(duplicate.status()));
    return reactor;
  }
  v1::PushResponse answer;
  answer.set_duplicate(*duplicate);
  *response = SerializeMessage(answer);
  reactor->Finish(grpc::Status::OK);
  if (!*duplicate) ServeReadyPulls();
  return reactor;
}

absl::StatusOr<bool> DataPlaneService::ApplyPush(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer& request) {
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(request, &header);
  if (!reader.ok()) return reader.status();

  absl::ReaderMutexLock state(&state_mu_);
  if (absl::Status routed = CheckRouting(context, header.epoch()); !routed.ok()) return routed;
  const auto worker = live_workers_.find(header.worker_id());
  if (worker == live_workers_.end() || worker->second != header.incarnation()) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", header.worker_id(), " incarnation ", header.incarnation(),
                     " is not a live worker at epoch ", epoch_, "; re-register"));
  }
  std::vector<BoundPush> pushes;
  pushes.reserve(header.slices_size());
  for (const v1::ShardSlice& slice : header.slices()) {
    absl::StatusOr<TableShard*> shard = ShardFor(context, slice, header.catalog_version());
    if (!shard.ok()) return shard.status();
    absl::StatusOr<PushPayload> payload = (*shard)->store().ValidatePush(slice, *reader);
    if (!payload.ok()) return payload.status();
    pushes.push_back(BoundPush{*shard, *std::move(payload)});
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
    absl::StatusOr<bool> seen = pushes[i].shard->AdmitLocked(identity);
    if (seen.ok()) {
      duplicate[i] = *seen;
    } else {
      admitted = seen.status();
    }
  }
  bool all_duplicates = true;
  if (admitted.ok()) {
    for (size_t i = 0; i < pushes.size(); ++i) {
      if (duplicate[i]) continue;
      all_duplicates = false;
      pushes[i].shard->ApplyLocked(identity, pushes[i].payload);
    }
  }
  for (auto it = pushes.rbegin(); it != pushes.rend(); ++it) it->shard->mu().Unlock();
  if (!admitted.ok()) return admitted;
  return all_duplicates && !pushes.empty();
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
  absl::ReaderMutexLock state(&state_mu_);
  if (absl::Status routed = CheckRouting(context, header.epoch()); !routed.ok()) return routed;
  call->clock = header.clock();
  for (const v1::ShardSlice& slice : header.slices()) {
    absl::StatusOr<TableShard*> shard = ShardFor(context, slice, header.catalog_version());
    if (!shard.ok()) return shard.status();
    absl::StatusOr<std::vector<uint64_t>> keys = (*shard)->store().ValidatePull(slice, *reader);
    if (!keys.ok()) return keys.status();
    call->parts.push_back(PullCall::Part{*shard, slice, *std::move(keys)});
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
  if (stopping_) {
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
  for (PullCall* call : ready) call->Respond();
}

void DataPlaneService::CancelWaiting(PullCall* call) {
  absl::MutexLock lock(&waiting_mu_);
  if (waiting_.erase(call) == 0) return;  // Being answered, or never parked.
  call->Finish(grpc::Status(
      grpc::StatusCode::DEADLINE_EXCEEDED,
      absl::StrCat("the pull was still waiting for clock ", call->clock,
                   " (slower workers have not pushed) when the client gave up")));
}

void DataPlaneService::FinishWaitingPulls() {
  absl::MutexLock lock(&waiting_mu_);
  stopping_ = true;
  for (PullCall* call : waiting_) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  waiting_.clear();
}

}  // namespace ps
