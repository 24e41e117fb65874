#include "server/coordinator/leader_election.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "server/coordinator/etcd_fake.h"
#include "server/coordinator/lease_fence.h"

namespace ps {
namespace {

using ::ps::testing::FakeEtcd;

TEST(LeaseFenceTest, ActsUntilTwoThirdsOfTheTtlAfterTheLastAnsweredRequest) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  LeaseFence fence;
  EXPECT_FALSE(fence.MayAct(t0)) << "no lease yet";
  fence.Granted(absl::Seconds(3), t0);
  EXPECT_TRUE(fence.MayAct(t0 + absl::Milliseconds(1999)));
  EXPECT_FALSE(fence.MayAct(t0 + absl::Seconds(2)));
  fence.Renewed(t0 + absl::Seconds(1));
  EXPECT_TRUE(fence.MayAct(t0 + absl::Milliseconds(2999)));
  EXPECT_FALSE(fence.MayAct(t0 + absl::Seconds(3)));
  // A late answer to an older request does not move the fence back.
  fence.Renewed(t0 + absl::Milliseconds(500));
  EXPECT_EQ(fence.ValidUntil(), t0 + absl::Seconds(3));
  fence.Lost();
  EXPECT_FALSE(fence.MayAct(t0 + absl::Seconds(1)));
}

LeaderElectionOptions Options(const std::string& candidate) {
  LeaderElectionOptions options;
  options.election = "/ps/c1/election";
  options.candidate = candidate;
  options.requested_ttl = absl::Seconds(3);  // Renewals every second: few within a test.
  options.campaign_period = absl::Milliseconds(200);
  options.retry_backoff = absl::Milliseconds(5);
  return options;
}

// A clock the test moves; starts at the real time so that real waits and it agree at first.
class TestClock {
 public:
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  LeaderElection::Clock AsClock() {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

TEST(LeaderElectionTest, LeadsWithTheGrantedTtlAndMayServe) {
  FakeEtcd etcd;
  etcd.set_granted_ttl(absl::Seconds(6));  // More than asked, as etcd does for small TTLs.
  LeaderElection election(etcd, Options("a:1"));
  absl::StatusOr<EtcdLeaderKey> office = election.Lead();
  ASSERT_TRUE(office.ok()) << office.status();
  EXPECT_EQ(office->name, "/ps/c1/election");
  EXPECT_EQ(election.granted_ttl(), absl::Seconds(6));
  EXPECT_TRUE(election.MayServe());
  absl::StatusOr<std::optional<EtcdKeyValue>> value = etcd.Get(office->key);
  ASSERT_TRUE(value.ok());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->value, "a:1") << "the campaign value is the advertised address";
}

TEST(LeaderElectionTest, StopsServingWhenRenewalsAreOverdueAndAgainOnceRenewed) {
  FakeEtcd etcd;
  TestClock clock;
  LeaderElection election(etcd, Options("a:1"), clock.AsClock());
  ASSERT_TRUE(election.Lead().ok());
  EXPECT_TRUE(election.MayServe());
  // Stalled (or cut off) for 2/3 of the TTL: etcd may expire the lease soon; stop serving.
  clock.Advance(absl::Seconds(2));
  EXPECT_FALSE(election.MayServe());
  // A renewal requested now and answered with TTL > 0: the lease lives, still the leader.
  const int before = etcd.keepalives();
  while (etcd.keepalives() < before + 2) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(election.MayServe());
}

TEST(LeaderElectionTest, ExpiredLeaseDeposesTheLeader) {
  FakeEtcd etcd;
  LeaderElectionOptions options = Options("a:1");
  options.requested_ttl = absl::Seconds(1);  // Renewals every 333 ms.
  LeaderElection election(etcd, options);
  absl::StatusOr<EtcdLeaderKey> office = election.Lead();
  ASSERT_TRUE(office.ok());
  etcd.ExpireLease(office->lease);
  const absl::Status lost = election.AwaitLoss();  // The next renewal is answered TTL 0.
  EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition) << lost;
  EXPECT_NE(lost.message().find("deposed"), absl::string_view::npos) << lost;
  EXPECT_FALSE(election.MayServe());
}

TEST(LeaderElectionTest, RefusedWriteDeposes) {
  FakeEtcd etcd;
  LeaderElection election(etcd, Options("a:1"));
  ASSERT_TRUE(election.Lead().ok());
  election.MarkDeposed(absl::AbortedError("state changed"));
  EXPECT_FALSE(election.MayServe());
  EXPECT_EQ(election.AwaitLoss().code(), absl::StatusCode::kAborted);
}

TEST(LeaderElectionTest, CampaignIsReissuedWhileEtcdIsUnreachable) {
  FakeEtcd etcd;
  etcd.FailNextCampaigns({absl::UnavailableError("down"), absl::DeadlineExceededError("slow"),
                          absl::UnavailableError("down")});
  LeaderElection election(etcd, Options("a:1"));
  ASSERT_TRUE(election.Lead().ok());
  EXPECT_EQ(etcd.grants(), 1) << "the same lease throughout";
}

TEST(LeaderElectionTest, LostLeaseWhileCampaigningGrantsANewOne) {
  FakeEtcd etcd;
  etcd.FailNextCampaigns({absl::NotFoundError("etcdserver: requested lease not found")});
  LeaderElection election(etcd, Options("a:1"));
  absl::StatusOr<EtcdLeaderKey> office = election.Lead();
  ASSERT_TRUE(office.ok());
  EXPECT_EQ(etcd.grants(), 2);
  EXPECT_EQ(office->lease, 2);
}

TEST(LeaderElectionTest, StandbyLeadsWhenTheLeaderResigns) {
  FakeEtcd etcd;
  LeaderElection first(etcd, Options("a:1"));
  ASSERT_TRUE(first.Lead().ok());
  LeaderElection second(etcd, Options("b:2"));
  std::atomic<bool> led{false};
  std::thread standby([&] { led = second.Lead().ok(); });
  absl::SleepFor(absl::Milliseconds(300));  // Long enough to re-issue its campaign once.
  EXPECT_FALSE(led.load()) << "one leader at a time";
  first.Resign();
  standby.join();
  EXPECT_TRUE(led.load());
  EXPECT_EQ(etcd.resigns(), 1);
  EXPECT_EQ(etcd.revokes(), 1);
  EXPECT_TRUE(second.MayServe());
  EXPECT_FALSE(first.MayServe());
}

TEST(LeaderElectionTest, StopEndsAWaitingCampaign) {
  FakeEtcd etcd;
  LeaderElection leader(etcd, Options("a:1"));
  ASSERT_TRUE(leader.Lead().ok());
  LeaderElectionOptions options = Options("b:2");
  options.campaign_period = absl::Seconds(30);
  LeaderElection standby(etcd, options);
  absl::Status result;
  std::thread waiting([&] { result = standby.Lead().status(); });
  absl::SleepFor(absl::Milliseconds(50));
  standby.Stop();
  waiting.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled) << result;
}

TEST(LeaderElectionTest, ResumeCallbackRunsBeforeServingAgain) {
  FakeEtcd etcd;
  TestClock clock;
  LeaderElection election(etcd, Options("a:1"), clock.AsClock());
  std::atomic<int> resumed{0};
  std::atomic<bool> served_before_resume{false};
  election.SetResumeCallback([&] {
    if (election.MayServe()) served_before_resume = true;
    ++resumed;
  });
  ASSERT_TRUE(election.Lead().ok());
  clock.Advance(absl::Seconds(2));  // Lapsed.
  ASSERT_FALSE(election.MayServe());
  while (resumed.load() == 0) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(served_before_resume.load());
  while (!election.MayServe()) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(resumed.load(), 1);
}

}  // namespace
}  // namespace ps
