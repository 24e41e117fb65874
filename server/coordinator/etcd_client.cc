#include "server/coordinator/etcd_client.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "third_party/etcd/etcdserver/api/v3election/v3electionpb/v3election.grpc.pb.h"
#include "third_party/etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace ps {
namespace {

namespace epb = etcdserverpb;
namespace vpb = v3electionpb;

constexpr char kScheme[] = "etcd://";

std::shared_ptr<grpc::Channel> OpenEtcdChannel(const std::string& endpoint) {
  grpc::ChannelArguments arguments;
  // Reconnect promptly after an etcd restart. GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is deliberately
  // not set: in gRPC 1.51 it doubles as the connect timeout, and at 100 ms a channel never
  // connected again (grpc/grpc#33423). Re-resolving often lets a channel whose first attempt was
  // refused connect within a second of etcd listening instead of 10-15 s.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 100);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), arguments);
}

bool Unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::Status FromEtcd(const grpc::Status& status, const char* call) {
  if (status.ok()) return absl::OkStatus();
  // The election service passes its internal client's "lease not found" through as UNKNOWN.
  if (absl::StrContains(status.error_message(), "requested lease not found")) {
    return absl::NotFoundError(absl::StrCat("etcd ", call, ": ", status.error_message()));
  }
  const absl::Status converted = FromGrpcStatus(status);
  return absl::Status(converted.code(), absl::StrCat("etcd ", call, ": ", status.error_message()));
}

class GrpcEtcdClient final : public EtcdClient {
 public:
  explicit GrpcEtcdClient(const GrpcEtcdClientOptions& options) : options_(options) {
    for (const std::string& endpoint : options.endpoints) {
      Endpoint stubs;
      std::shared_ptr<grpc::Channel> channel = OpenEtcdChannel(endpoint);
      stubs.kv = epb::KV::NewStub(channel);
      stubs.lease = epb::Lease::NewStub(channel);
      stubs.election = vpb::Election::NewStub(channel);
      endpoints_.push_back(std::move(stubs));
    }
  }

  absl::StatusOr<std::optional<EtcdKeyValue>> Get(const std::string& key) override {
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    epb::RangeRequest request;
    request.set_key(key);
    epb::RangeResponse response;
    const size_t endpoint = Current();
    const grpc::Status status = endpoints_[endpoint].kv->Range(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "Range");
    if (response.kvs_size() == 0) return std::nullopt;
    return ToKeyValue(response.kvs(0));
  }

  absl::StatusOr<EtcdGuardedPutResult> GuardedPut(const EtcdLeaderKey& leader,
                                                  const std::string& key,
                                                  int64_t expected_mod_revision,
                                                  const std::string& value) override {
    epb::TxnRequest request;
    epb::Compare* leads = request.add_compare();
    leads->set_key(leader.key);
    leads->set_target(epb::Compare::CREATE);
    leads->set_result(epb::Compare::EQUAL);
    leads->set_create_revision(leader.create_revision);
    epb::Compare* unchanged = request.add_compare();
    unchanged->set_key(key);
    unchanged->set_target(epb::Compare::MOD);
    unchanged->set_result(epb::Compare::EQUAL);
    unchanged->set_mod_revision(expected_mod_revision);  // 0 compares equal for an absent key.
    epb::PutRequest* put = request.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    request.add_failure()->mutable_request_range()->set_key(leader.key);
    request.add_failure()->mutable_request_range()->set_key(key);
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    epb::TxnResponse response;
    const size_t endpoint = Current();
    const grpc::Status status = endpoints_[endpoint].kv->Txn(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "Txn");
    EtcdGuardedPutResult result;
    result.succeeded = response.succeeded();
    if (result.succeeded) {
      result.revision = response.header().revision();
      return result;
    }
    if (response.responses_size() != 2) {
      return absl::InternalError("etcd Txn: the failure branch did not answer two ranges");
    }
    const epb::RangeResponse& leader_range = response.responses(0).response_range();
    result.leader_key_holds = leader_range.kvs_size() == 1 &&
                              leader_range.kvs(0).create_revision() == leader.create_revision;
    const epb::RangeResponse& state_range = response.responses(1).response_range();
    if (state_range.kvs_size() == 1) result.current = ToKeyValue(state_range.kvs(0));
    return result;
  }

  absl::Status Compact(int64_t revision) override {
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    epb::CompactionRequest request;
    request.set_revision(revision);
    epb::CompactionResponse response;
    const size_t endpoint = Current();
    const grpc::Status status = endpoints_[endpoint].kv->Compact(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "Compact");
    return absl::OkStatus();
  }

  absl::StatusOr<EtcdLease> GrantLease(absl::Duration ttl) override {
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    epb::LeaseGrantRequest request;
    request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
    epb::LeaseGrantResponse response;
    const size_t endpoint = Current();
    const grpc::Status status = endpoints_[endpoint].lease->LeaseGrant(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "LeaseGrant");
    if (!response.error().empty()) {
      return absl::UnavailableError(absl::StrCat("etcd LeaseGrant: ", response.error()));
    }
    return EtcdLease{response.id(), absl::Seconds(response.ttl())};
  }

  absl::StatusOr<absl::Duration> KeepAlive(int64_t lease, absl::Time deadline) override {
    // One short-lived stream per renewal: nothing to recover after etcd restarts, for the cost
    // of an HTTP/2 stream every TTL/3.
    grpc::ClientContext context;
    Prepare(context, deadline);
    const size_t endpoint = Current();
    std::unique_ptr<grpc::ClientReaderWriter<epb::LeaseKeepAliveRequest,
                                             epb::LeaseKeepAliveResponse>>
        stream = endpoints_[endpoint].lease->LeaseKeepAlive(&context);
    epb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    epb::LeaseKeepAliveResponse response;
    const bool answered = stream->Write(request) && stream->Read(&response);
    if (answered) context.TryCancel();  // The stream has served its purpose.
    const grpc::Status status = stream->Finish();
    if (!answered) {
      return Failed(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended")
                                : status,
                    endpoint, "LeaseKeepAlive");
    }
    return absl::Seconds(std::max<int64_t>(0, response.ttl()));
  }

  absl::Status RevokeLease(int64_t lease) override {
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    epb::LeaseRevokeRequest request;
    request.set_id(lease);
    epb::LeaseRevokeResponse response;
    const size_t endpoint = Current();
    const grpc::Status status =
        endpoints_[endpoint].lease->LeaseRevoke(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "LeaseRevoke");
    return absl::OkStatus();
  }

  absl::StatusOr<EtcdLeaderKey> Campaign(const std::string& name, int64_t lease,
                                         const std::string& value, absl::Time deadline) override {
    grpc::ClientContext context;
    Prepare(context, deadline);
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return absl::CancelledError("the campaign was cancelled");
      campaigns_.insert(&context);
    }
    vpb::CampaignRequest request;
    request.set_name(name);
    request.set_lease(lease);
    request.set_value(value);
    vpb::CampaignResponse response;
    const size_t endpoint = Current();
    const grpc::Status status =
        endpoints_[endpoint].election->Campaign(&context, request, &response);
    {
      absl::MutexLock lock(&mu_);
      campaigns_.erase(&context);
    }
    if (!status.ok()) return Failed(status, endpoint, "Campaign");
    const vpb::LeaderKey& leader = response.leader();
    return EtcdLeaderKey{leader.name(), leader.key(), leader.rev(), leader.lease()};
  }

  void CancelCampaign() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (grpc::ClientContext* context : campaigns_) context->TryCancel();
  }

  absl::Status Resign(const EtcdLeaderKey& leader) override {
    grpc::ClientContext context;
    Prepare(context, absl::Now() + options_.call_timeout);
    vpb::ResignRequest request;
    vpb::LeaderKey* key = request.mutable_leader();
    key->set_name(leader.name);
    key->set_key(leader.key);
    key->set_rev(leader.create_revision);
    key->set_lease(leader.lease);
    vpb::ResignResponse response;
    const size_t endpoint = Current();
    const grpc::Status status = endpoints_[endpoint].election->Resign(&context, request, &response);
    if (!status.ok()) return Failed(status, endpoint, "Resign");
    return absl::OkStatus();
  }

 private:
  struct Endpoint {
    std::unique_ptr<epb::KV::Stub> kv;
    std::unique_ptr<epb::Lease::Stub> lease;
    std::unique_ptr<vpb::Election::Stub> election;
  };

  static EtcdKeyValue ToKeyValue(const mvccpb::KeyValue& kv) {
    return EtcdKeyValue{kv.value(), kv.create_revision(), kv.mod_revision()};
  }

  static void Prepare(grpc::ClientContext& context, absl::Time deadline) {
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(deadline));
  }

  size_t Current() {
    absl::MutexLock lock(&mu_);
    return current_;
  }

  // Converts `status`; an unreachable endpoint sends the next call to the next one.
  absl::Status Failed(const grpc::Status& status, size_t endpoint, const char* call) {
    if (Unreachable(status) && endpoints_.size() > 1) {
      absl::MutexLock lock(&mu_);
      if (current_ == endpoint) current_ = (endpoint + 1) % endpoints_.size();
    }
    return FromEtcd(status, call);
  }

  const GrpcEtcdClientOptions options_;
  std::vector<Endpoint> endpoints_;  // Constant after construction.

  absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<grpc::ClientContext*> campaigns_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(const std::string& url) {
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--state_store=", url, ": expected etcd://HOST:PORT[,HOST:PORT...]"));
  }
  const std::string list = url.substr(sizeof(kScheme) - 1);
  std::vector<std::string> endpoints;
  for (absl::string_view endpoint : absl::StrSplit(list, ',')) {
    const size_t colon = endpoint.rfind(':');
    int port = 0;
    if (endpoint.empty() || colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--state_store=", url, ": \"", endpoint,
          "\" is not HOST:PORT (a host name or address and a port 1-65535)"));
    }
    endpoints.emplace_back(endpoint);
  }
  return endpoints;
}

std::unique_ptr<EtcdClient> NewGrpcEtcdClient(const GrpcEtcdClientOptions& options) {
  return std::make_unique<GrpcEtcdClient>(options);
}

}  // namespace ps
