// Coordinator high availability on a real etcd, against real processes: three coordinators
// share one etcd (one leads, two stand by without listening), three servers (R=2) and two
// increment workers train through the ledger (ledger.h) while
//   - the leader is SIGKILLed: a standby leads, training finishes, nothing lost or doubled;
//   - the leader is SIGSTOPped past its lease: a standby leads; resumed, the ex-leader answers
//     nothing (a heartbeat and a map watch queued on it while it was stopped are refused, no
//     map comes from it) and exits as deposed;
//   - etcd itself is SIGKILLed and restarted on the same data: the coordinators ride it out.
// Skipped when etcd is not installed, unless PS_REQUIRE_ETCD=1 (tests/harness/test_etcd.h).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_endpoint.h"
#include "gtest/gtest.h"
#include "proto/coordinator.grpc.pb.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/test_etcd.h"
#include "tests/integration/ledger.h"

namespace ps::testing {
namespace {

constexpr absl::Duration kFailoverTimeout = absl::Seconds(10);

// A ledger run on three coordinators sharing `etcd`; `fault` strikes at a third of the pushes.
LedgerOptions HaLedger(const TestEtcd& etcd, std::function<absl::Status(LocalCluster&)> fault) {
  LedgerOptions options;
  options.model = v1::ConsistencySpec::MODEL_ASP;
  options.servers = 3;
  options.replication_factor = 2;
  options.workers = 2;
  // About 5 s of pushes; the fault lands a third of the way in.
  options.clocks = 80;
  options.clock_pause_ms = 50;
  options.fault = LedgerFault::kCustom;
  options.fault_at_fraction = 0.33;
  const std::string url = etcd.url();
  options.configure_cluster = [url](LocalClusterOptions& cluster) {
    cluster.etcd_url = url;
    cluster.coordinators = 3;
  };
  options.custom_fault = std::move(fault);
  return options;
}

absl::StatusOr<v1::ClusterStatus> StatusOf(LocalCluster& cluster) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  context.set_wait_for_ready(true);
  v1::ClusterStatus status;
  const grpc::Status called = cluster.coordinator().GetClusterStatus(&context, {}, &status);
  if (!called.ok()) return absl::UnavailableError(called.error_message());
  return status;
}

void ExpectExact(const LedgerOptions& options, const LedgerResult& result) {
  EXPECT_EQ(result.acknowledged_pushes, 2 * options.workers * options.clocks)
      << "every worker ran every clock without a failed call";
  EXPECT_GT(result.acknowledged_before_fault, 0);
  EXPECT_LT(result.acknowledged_before_fault, result.acknowledged_pushes) << "struck mid-run";
  EXPECT_EQ(result.values_lost, 0) << result.summary;
  EXPECT_EQ(result.values_doubled, 0) << result.summary;
  EXPECT_GT(result.replicas_compared, 0);
  EXPECT_EQ(result.replicas_different, 0) << result.summary;
}

TEST(CoordinatorFailoverTest, KilledLeaderIsReplacedAndTrainingLosesNothing) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  int old_leader = -1;
  int new_leader = -1;
  uint64_t epoch_before = 0;
  uint64_t epoch_after = 0;
  absl::Duration failover;
  LedgerOptions options = HaLedger(**etcd, [&](LocalCluster& cluster) -> absl::Status {
    absl::StatusOr<int> leader = cluster.WaitForLeader(kFailoverTimeout);
    if (!leader.ok()) return leader.status();
    old_leader = *leader;
    absl::StatusOr<v1::ClusterStatus> before = StatusOf(cluster);
    if (!before.ok()) return before.status();
    epoch_before = before->map().epoch();
    const absl::Time killed = absl::Now();
    cluster.coordinator_process(old_leader).Signal(SIGKILL);
    absl::StatusOr<int> next = cluster.WaitForLeader(kFailoverTimeout, old_leader);
    if (!next.ok()) return next.status();
    failover = absl::Now() - killed;
    new_leader = *next;
    absl::StatusOr<v1::ClusterStatus> after = StatusOf(cluster);
    if (!after.ok()) return after.status();
    epoch_after = after->map().epoch();
    return absl::OkStatus();
  });
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; leader %d killed, %d leads after %s; epochs %lu -> %lu -> %lu\n",
              result->summary.c_str(), old_leader, new_leader,
              absl::FormatDuration(failover).c_str(), static_cast<unsigned long>(epoch_before),
              static_cast<unsigned long>(epoch_after),
              static_cast<unsigned long>(result->epochs.back()));
  ExpectExact(options, *result);
  EXPECT_NE(new_leader, old_leader);
  EXPECT_LT(failover, absl::Seconds(5)) << "TTL 1 s: about 1-1.5 s expected";
  EXPECT_GE(epoch_after, epoch_before) << "epochs never go backwards";
  EXPECT_GE(result->epochs.back(), epoch_after) << "epochs never go backwards";
  EXPECT_EQ(result->registrations_after_start, 0)
      << "every member kept its id: the new leader carried on the saved cluster";
}

// Starts a Heartbeat and a map watch on `address` from their own threads (wait_for_ready, so
// they are delivered even though the process there is stopped) and reports how they ended.
class QueuedCalls {
 public:
  QueuedCalls(const std::string& address, const v1::MemberRef& member)
      : channel_(OpenFreshChannel(address)), stub_(v1::Coordinator::NewStub(channel_)) {
    // The stopped process's kernel accepts the connection: wait for it, so the requests go out
    // while the process is stopped.
    channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    heartbeat_ = std::thread([this, member] {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3 * TestTimeScale())));
      v1::HeartbeatRequest request;
      *request.mutable_member() = member;
      v1::HeartbeatResponse response;
      heartbeat_status_ = stub_->Heartbeat(&context, request, &response);
    });
    watch_ = std::thread([this] {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3 * TestTimeScale())));
      auto reader = stub_->WatchClusterMap(&context, v1::WatchClusterMapRequest());
      v1::ClusterMap map;
      while (reader->Read(&map)) ++maps_;
      watch_status_ = reader->Finish();
    });
  }
  void Join() {
    heartbeat_.join();
    watch_.join();
  }
  const grpc::Status& heartbeat_status() const { return heartbeat_status_; }
  const grpc::Status& watch_status() const { return watch_status_; }
  int maps() const { return maps_.load(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  grpc::Status heartbeat_status_;
  grpc::Status watch_status_;
  std::atomic<int> maps_{0};
  std::thread heartbeat_;
  std::thread watch_;
};

TEST(CoordinatorFailoverTest, StoppedLeaderResumedAfterTakeoverServesNothing) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  int old_leader = -1;
  int new_leader = -1;
  std::optional<int> old_exit;
  std::string old_log;
  grpc::Status heartbeat;
  grpc::Status watch;
  int maps_from_old = -1;
  TestEtcd& store = **etcd;
  LedgerOptions options = HaLedger(store, [&](LocalCluster& cluster) -> absl::Status {
    absl::StatusOr<int> leader = cluster.WaitForLeader(kFailoverTimeout);
    if (!leader.ok()) return leader.status();
    old_leader = *leader;
    absl::StatusOr<v1::ClusterStatus> before = StatusOf(cluster);
    if (!before.ok()) return before.status();
    v1::MemberRef server;  // A live server, as it would heartbeat.
    for (const v1::MemberHealth& member : before->members()) {
      if (member.member().role() == v1::MemberRef::ROLE_SERVER &&
          member.state() == v1::MEMBER_STATE_ALIVE) {
        server = member.member();
      }
    }
    DaemonProcess& stopped = cluster.coordinator_process(old_leader);
    stopped.Signal(SIGSTOP);
    absl::StatusOr<int> next = cluster.WaitForLeader(kFailoverTimeout, old_leader);
    if (!next.ok()) {
      stopped.Signal(SIGCONT);
      return next.status();
    }
    new_leader = *next;
    // The new leader serves; the old one is still stopped, long past its lease. Queue a
    // heartbeat and a watch on it, then let it run while etcd is frozen: like a partitioned
    // leader, it cannot learn from etcd that it was deposed, so only its own clock (the lease
    // fence) can keep it from answering. The freeze is short (the calls are answered in ms),
    // well under the new leader's lease.
    QueuedCalls queued(cluster.coordinator_address(old_leader), server);
    absl::SleepFor(absl::Milliseconds(200));  // Lets the client write both requests out.
    store.Signal(SIGSTOP);
    stopped.Signal(SIGCONT);
    queued.Join();
    store.Signal(SIGCONT);
    heartbeat = queued.heartbeat_status();
    watch = queued.watch_status();
    maps_from_old = queued.maps();
    old_exit = stopped.Wait(absl::Seconds(10));
    old_log = stopped.ReadLog();
    return absl::OkStatus();
  });
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; leader %d stopped, %d leads; resumed ex-leader: heartbeat %d \"%s\", watch "
              "%d maps then %d \"%s\", exit %d\n",
              result->summary.c_str(), old_leader, new_leader, heartbeat.error_code(),
              heartbeat.error_message().c_str(), maps_from_old, watch.error_code(),
              watch.error_message().c_str(), old_exit.value_or(-1));
  ExpectExact(options, *result);
  EXPECT_NE(new_leader, old_leader);
  // Without self-fencing the resumed process would acknowledge the heartbeat and send its map
  // at once: its in-memory state still says it leads, and etcd cannot tell it otherwise.
  EXPECT_FALSE(heartbeat.ok()) << "the resumed ex-leader acknowledged a heartbeat";
  EXPECT_EQ(maps_from_old, 0) << "the resumed ex-leader published a map";
  // And it was the ex-leader itself that refused them (not a connection that went away).
  EXPECT_NE(heartbeat.error_message().find("not serving"), std::string::npos)
      << heartbeat.error_message();
  EXPECT_NE(watch.error_message().find("not serving"), std::string::npos)
      << watch.error_message();
  EXPECT_EQ(old_log.find("declared dead"), std::string::npos)
      << "no failure decided after the lease lapsed:\n" << old_log;
  EXPECT_EQ(old_exit, std::optional<int>(3)) << "it exits as deposed:\n" << old_log;
  EXPECT_NE(old_log.find("no longer the leader"), std::string::npos) << old_log;
}

TEST(CoordinatorFailoverTest, EtcdRestartMidTrainingIsRiddenOut) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  TestEtcd& store = **etcd;
  std::string logs;
  absl::Duration outage;
  LedgerOptions options = HaLedger(store, [&](LocalCluster&) -> absl::Status {
    const absl::Time killed = absl::Now();
    store.Stop(SIGKILL);
    absl::SleepFor(absl::Seconds(1));  // The outage being simulated.
    absl::Status restarted = store.Restart();
    outage = absl::Now() - killed;
    return restarted;
  });
  options.custom_fault = [&, fault = options.custom_fault](LocalCluster& cluster) {
    absl::Status faulted = fault(cluster);
    // Every coordinator's log once etcd is back (the cluster is gone when RunLedger returns).
    for (int i = 0; i < cluster.num_coordinators(); ++i) {
      absl::StrAppend(&logs, cluster.coordinator_process(i).ReadLog());
    }
    return faulted;
  };
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; etcd down and back serving after %s\n", result->summary.c_str(),
              absl::FormatDuration(outage).c_str());
  ExpectExact(options, *result);
  EXPECT_NE(logs.find("etcd unreachable"), std::string::npos)
      << "the coordinators said that etcd was unreachable:\n" << logs;
}

}  // namespace
}  // namespace ps::testing
