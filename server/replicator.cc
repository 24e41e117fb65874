#include "server/replicator.h"

#include <algorithm>
#include <atomic>

#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"

namespace ps {
namespace {

constexpr char kReplicateMethod[] = "/ps.v1.ParameterServer/Replicate";

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

struct Batch {
  std::vector<std::unique_ptr<Call>> calls;
  std::vector<ReplicationResult> results;
  std::atomic<size_t> pending{0};
  std::function<void(std::vector<ReplicationResult>)> done;
};

}  // namespace

Replicator::~Replicator() {
  absl::MutexLock lock(&mu_);
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
  const auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_.empty(); };
  mu_.Await(absl::Condition(&finished));
}

grpc::GenericStub& Replicator::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<grpc::GenericStub>& stub = stubs_[address];
  if (stub == nullptr) stub = std::make_unique<grpc::GenericStub>(OpenChannel(address, *security_));
  return *stub;
}

void Replicator::Send(std::vector<ReplicationRequest> requests,
                      std::function<void(std::vector<ReplicationResult>)> done) {
  if (requests.empty()) {
    done({});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->done = std::move(done);
  batch->pending = requests.size();
  batch->results.resize(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ReplicationRequest& request = requests[i];
    ReplicationResult& result = batch->results[i];
    result.server_id = request.server_id;
    for (const v1::LogEntry& entry : request.header.entries()) {
      if (std::find(result.shard_ids.begin(), result.shard_ids.end(), entry.shard_id()) ==
          result.shard_ids.end()) {
        result.shard_ids.push_back(entry.shard_id());
      }
    }
    auto call = std::make_unique<Call>();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    call->request = MakeFrame(request.header, request.payload);
    batch->calls.push_back(std::move(call));
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& call : batch->calls) in_flight_.insert(&call->context);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    Call* call = batch->calls[i].get();
    StubFor(requests[i].address)
        .UnaryCall(&call->context, kReplicateMethod, grpc::StubOptions(), &call->request,
                   &call->response, [this, batch, i](grpc::Status status) {
                     batch->results[i].status = FromGrpcStatus(status);
                     if (batch->pending.fetch_sub(1) == 1) {
                       std::vector<ReplicationResult> results = std::move(batch->results);
                       auto callback = std::move(batch->done);
                       callback(std::move(results));
                     }
                     absl::MutexLock lock(&mu_);
                     in_flight_.erase(&batch->calls[i]->context);
                   });
  }
}

}  // namespace ps
