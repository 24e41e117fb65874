// The ReportUnreachable decision, driven without a network: a fake prober stands in for the
// connection attempt; times are in the past, so the lease wait is empty.
#include "server/coordinator/coordinator_service.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

class ReportUnreachableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<Registration> registration =
          state_.RegisterServer("127.0.0.1:" + std::to_string(7001 + i), kStart);
      ASSERT_TRUE(registration.ok()) << registration.status();
      v1::MemberRef& ref = servers_.emplace_back();
      ref.set_role(v1::MemberRef::ROLE_SERVER);
      ref.set_id(registration->id);
      ref.set_incarnation(registration->incarnation);
    }
    ASSERT_EQ(state_.Map().shards_size(), 4);
  }

  // Reports server `id` unreachable on behalf of servers_[0] with the prober answering `probe`.
  grpc::Status Report(uint32_t id, ProbeResult probe, v1::ReportUnreachableResponse* response,
                      const v1::MemberRef* reporter = nullptr) {
    CoordinatorService service(state_, [&](const std::string& address) {
      probed_.push_back(address);
      return probe;
    });
    grpc::ServerContext context;
    v1::ReportUnreachableRequest request;
    *request.mutable_reporter() = reporter != nullptr ? *reporter : servers_[0];
    request.set_server_id(id);
    request.set_reason("connection refused");
    return service.ReportUnreachable(&context, &request, response);
  }

  ClusterState state_{[] {
                        ClusterOptions options;
                        options.num_shards = 4;
                        options.replication_factor = 2;
                        options.min_servers = 3;
                        return options;
                      }(),
                      kStart};
  std::vector<v1::MemberRef> servers_;
  std::vector<std::string> probed_;
};

TEST_F(ReportUnreachableTest, ARefusingServerIsDeclaredDeadAndItsPrimariesMove) {
  const v1::ClusterMap before = state_.Map();
  v1::ReportUnreachableResponse response;
  ASSERT_TRUE(Report(servers_[1].id(), ProbeResult::kRefused, &response).ok());
  EXPECT_TRUE(response.declared_dead());
  EXPECT_EQ(probed_, (std::vector<std::string>{"127.0.0.1:7002"}));
  const v1::ClusterMap after = state_.Map();
  EXPECT_GT(after.epoch(), before.epoch());
  EXPECT_EQ(response.epoch(), after.epoch());
  for (const v1::ServerInfo& server : after.servers()) {
    EXPECT_EQ(server.state() == v1::MEMBER_STATE_DEAD, server.server_id() == servers_[1].id());
  }
  for (const v1::ShardAssignment& shard : after.shards()) {
    for (uint32_t replica : shard.replicas()) EXPECT_NE(replica, servers_[1].id());
    ASSERT_FALSE(shard.replicas().empty());
  }
}

TEST_F(ReportUnreachableTest, AServerThatAcceptsTheConnectionIsLeftToTheHeartbeats) {
  for (ProbeResult probe : {ProbeResult::kConnected, ProbeResult::kUndecided}) {
    const v1::ClusterMap before = state_.Map();
    v1::ReportUnreachableResponse response;
    ASSERT_TRUE(Report(servers_[1].id(), probe, &response).ok());
    EXPECT_FALSE(response.declared_dead());
    EXPECT_EQ(state_.Map().SerializeAsString(), before.SerializeAsString()) << "nothing changes";
  }
}

TEST_F(ReportUnreachableTest, UnknownReportersAreRefusedAndDeadServersIgnored) {
  v1::MemberRef stranger;
  stranger.set_role(v1::MemberRef::ROLE_WORKER);
  stranger.set_id(99);
  v1::ReportUnreachableResponse response;
  EXPECT_EQ(Report(servers_[1].id(), ProbeResult::kRefused, &response, &stranger).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(probed_.empty()) << "no probe for a refused report";
  ASSERT_TRUE(Report(servers_[1].id(), ProbeResult::kRefused, &response).ok());
  ASSERT_TRUE(response.declared_dead());
  const v1::ClusterMap after = state_.Map();
  v1::ReportUnreachableResponse again;
  ASSERT_TRUE(Report(servers_[1].id(), ProbeResult::kRefused, &again).ok());
  EXPECT_FALSE(again.declared_dead()) << "already dead: nothing to do";
  EXPECT_EQ(state_.Map().epoch(), after.epoch());
  v1::ReportUnreachableResponse unknown;
  ASSERT_TRUE(Report(12345, ProbeResult::kRefused, &unknown).ok());
  EXPECT_FALSE(unknown.declared_dead());
}

// With several coordinators only the leader whose lease holds may answer (SetServingGate).
TEST_F(ReportUnreachableTest, ClosedServingGateRefusesEveryCallAndSendsNoMap) {
  CoordinatorService service(state_, [](const std::string&) { return ProbeResult::kUndecided; });
  bool open = false;
  service.SetServingGate([&] { return open; });
  grpc::ServerContext context;
  v1::HeartbeatRequest heartbeat;
  *heartbeat.mutable_member() = servers_[1];
  v1::HeartbeatResponse heartbeat_response;
  const grpc::Status refused = service.Heartbeat(&context, &heartbeat, &heartbeat_response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find("not serving"), std::string::npos);
  v1::RegisterWorkerRequest registration;
  v1::RegisterWorkerResponse registration_response;
  EXPECT_EQ(service.RegisterWorker(&context, &registration, &registration_response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(state_.Map().workers_size(), 0) << "nothing registered behind a closed gate";
  v1::GetClusterStatusRequest status_request;
  v1::ClusterStatus status;
  EXPECT_EQ(service.GetClusterStatus(&context, &status_request, &status).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  open = true;
  EXPECT_TRUE(service.Heartbeat(&context, &heartbeat, &heartbeat_response).ok());
}

}  // namespace
}  // namespace ps
