// A coordinator's life on etcd, driven against FakeEtcd with a real gRPC endpoint: a standby
// does not listen, a leader serves, a deposed leader ends with kExitDeposed, Stop() resigns, and
// a damaged saved state stops the start.
#include "server/coordinator/coordinator_runner.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/connection_probe.h"
#include "common/grpc_endpoint.h"
#include "gtest/gtest.h"
#include "proto/coordinator.grpc.pb.h"
#include "server/coordinator/etcd_fake.h"
#include "server/coordinator/etcd_state_store.h"

namespace ps {
namespace {

using ::ps::testing::FakeEtcd;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

class CoordinatorRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreePort();
    ASSERT_NE(port_, 0);
    address_ = absl::StrCat("127.0.0.1:", port_);
  }

  CoordinatorRunOptions Options() const {
    CoordinatorRunOptions options;
    options.endpoint.bind_host = "127.0.0.1";
    options.endpoint.port = port_;
    return options;
  }

  EtcdRunOptions EtcdOptions() const {
    EtcdRunOptions options;
    options.cluster_name = "c";
    return options;
  }

  // Runs `runner` on its own thread; the exit status lands in `status_`.
  void RunInBackground(CoordinatorRunner& runner) {
    thread_ = std::thread([this, &runner] { status_ = runner.RunWithEtcd(etcd_, EtcdOptions()); });
  }
  std::optional<int> Join() {
    thread_.join();
    return status_;
  }

  // Whether the coordinator at address_ answers within `timeout`.
  bool Serves(absl::Duration timeout) const {
    auto stub = v1::Coordinator::NewStub(OpenFreshChannel(address_));
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::ClusterStatus status;
    return stub->GetClusterStatus(&context, {}, &status).ok();
  }

  FakeEtcd etcd_;
  int port_ = 0;
  std::string address_;
  std::thread thread_;
  std::optional<int> status_;
};

TEST_F(CoordinatorRunnerTest, LeaderServesUntilItsLeaseExpiresThenEndsAsDeposed) {
  CoordinatorRunner runner(Options());
  RunInBackground(runner);
  ASSERT_TRUE(Serves(absl::Seconds(10)));
  EXPECT_TRUE(etcd_.HasKey(EtcdStateKey("c"))) << "the new cluster was saved before listening";
  etcd_.ExpireLease(1);  // Its only lease: as if it had been paused past its TTL.
  EXPECT_EQ(Join(), std::optional<int>(kExitDeposed));
  EXPECT_EQ(ProbeConnection(address_, absl::Seconds(1)), ProbeResult::kRefused)
      << "stopped listening";
}

TEST_F(CoordinatorRunnerTest, StopResignsAndRevokes) {
  CoordinatorRunner runner(Options());
  RunInBackground(runner);
  ASSERT_TRUE(Serves(absl::Seconds(10)));
  runner.Stop("test stop");
  EXPECT_EQ(Join(), std::optional<int>(0));
  EXPECT_EQ(etcd_.resigns(), 1);
  EXPECT_EQ(etcd_.revokes(), 1);
  EXPECT_TRUE(etcd_.HasKey(EtcdStateKey("c"))) << "the state outlives the leader";
}

TEST_F(CoordinatorRunnerTest, StandbyDoesNotListenAndLeadsWhenTheLeaderGoes) {
  // Another coordinator leads.
  absl::StatusOr<EtcdLease> other = etcd_.GrantLease(absl::Seconds(1));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(etcd_
                  .Campaign(EtcdElectionName("c"), other->id, "other:1",
                            absl::Now() + absl::Seconds(1))
                  .ok());
  CoordinatorRunner runner(Options());
  RunInBackground(runner);
  absl::SleepFor(absl::Milliseconds(300));  // It would have listened by now if it led.
  EXPECT_EQ(ProbeConnection(address_, absl::Seconds(1)), ProbeResult::kRefused)
      << "a standby must refuse connections, so that members move on";
  etcd_.ExpireLease(other->id);  // The leader died.
  EXPECT_TRUE(Serves(absl::Seconds(10)));
  runner.Stop("test stop");
  EXPECT_EQ(Join(), std::optional<int>(0));
}

TEST_F(CoordinatorRunnerTest, StopWhileStandingByRevokesTheLease) {
  absl::StatusOr<EtcdLease> other = etcd_.GrantLease(absl::Seconds(1));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(etcd_
                  .Campaign(EtcdElectionName("c"), other->id, "other:1",
                            absl::Now() + absl::Seconds(1))
                  .ok());
  CoordinatorRunner runner(Options());
  RunInBackground(runner);
  while (etcd_.grants() < 2) absl::SleepFor(absl::Milliseconds(5));  // It has its lease.
  runner.Stop("test stop");
  EXPECT_EQ(Join(), std::optional<int>(0));
  EXPECT_EQ(etcd_.revokes(), 1) << "its candidacy ends at once";
  EXPECT_EQ(etcd_.resigns(), 0) << "it never led";
}

TEST_F(CoordinatorRunnerTest, StopBeforeTheRunEndsItAtOnce) {
  CoordinatorRunner runner(Options());
  runner.Stop("stopped before it ran");
  EXPECT_EQ(runner.RunWithEtcd(etcd_, EtcdOptions()), 0);
  EXPECT_EQ(etcd_.grants(), 0);
}

TEST_F(CoordinatorRunnerTest, DamagedSavedStateStopsTheStart) {
  etcd_.Put(EtcdStateKey("c"), "\xff\xff not a coordinator state");
  CoordinatorRunner runner(Options());
  EXPECT_EQ(runner.RunWithEtcd(etcd_, EtcdOptions()), 1);
  EXPECT_EQ(ProbeConnection(address_, absl::Seconds(1)), ProbeResult::kRefused)
      << "never serves an empty cluster";
  EXPECT_EQ(etcd_.resigns(), 1) << "hands the leadership on";
}

}  // namespace
}  // namespace ps
