// The etcd client, state store and leader election against a real etcd (the unit tests use
// FakeEtcd): etcd's own answers for fencing, leases, campaigns and outages.
// Skipped when etcd is not installed, unless PS_REQUIRE_ETCD=1 (tests/harness/test_etcd.h).
#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/etcd_state_store.h"
#include "server/coordinator/leader_election.h"
#include "tests/harness/test_etcd.h"

namespace ps::testing {
namespace {

std::unique_ptr<EtcdClient> ClientOf(const TestEtcd& etcd) {
  GrpcEtcdClientOptions options;
  options.endpoints = {etcd.endpoint()};
  options.call_timeout = absl::Seconds(1);
  return NewGrpcEtcdClient(options);
}

LeaderElectionOptions ElectionOptions(const std::string& candidate) {
  LeaderElectionOptions options;
  options.election = EtcdElectionName("t");
  options.candidate = candidate;
  options.requested_ttl = absl::Seconds(1);
  options.campaign_period = absl::Seconds(2);
  return options;
}

v1::CoordinatorState StateOf(uint64_t generation) {
  v1::CoordinatorState state;
  state.set_generation(generation);
  return state;
}

TEST(EtcdCoordinationTest, FencedSavesFromTheLeaderOnly) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::unique_ptr<EtcdClient> client_a = ClientOf(**etcd);
  std::unique_ptr<EtcdClient> client_b = ClientOf(**etcd);
  LeaderElection a(*client_a, ElectionOptions("a:1"));
  absl::StatusOr<EtcdLeaderKey> office_a = a.Lead();
  ASSERT_TRUE(office_a.ok()) << office_a.status();
  EXPECT_EQ(a.granted_ttl(), absl::Seconds(1)) << "etcd runs with a 500 ms election timeout";
  EXPECT_TRUE(a.MayServe());

  EtcdStateStoreOptions store_options;
  store_options.cluster = "t";
  int deposed = 0;
  EtcdStateStore store_a(*client_a, *office_a, store_options,
                         [&](const absl::Status&) { ++deposed; });
  absl::StatusOr<std::optional<v1::CoordinatorState>> empty = store_a.Load();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());
  ASSERT_TRUE(store_a.Save(StateOf(1)).ok());
  ASSERT_TRUE(store_a.Save(StateOf(2)).ok());

  // B stands by until A resigns, then leads and carries on from A's state.
  LeaderElection b(*client_b, ElectionOptions("b:2"));
  absl::StatusOr<EtcdLeaderKey> office_b;
  std::atomic<bool> b_leads{false};
  std::thread standby([&] {
    office_b = b.Lead();
    b_leads = true;
  });
  absl::SleepFor(absl::Milliseconds(300));  // B's campaign is waiting (it cannot lead yet).
  EXPECT_FALSE(b_leads.load());
  const absl::Time resigned = absl::Now();
  a.Resign();
  standby.join();
  ASSERT_TRUE(office_b.ok()) << office_b.status();
  EXPECT_LT(absl::Now() - resigned, absl::Seconds(1)) << "a resignation hands over at once";
  EtcdStateStore store_b(*client_b, *office_b, store_options, nullptr);
  absl::StatusOr<std::optional<v1::CoordinatorState>> loaded = store_b.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->generation(), 2u);
  ASSERT_TRUE(store_b.Save(StateOf(3)).ok());

  // A, deposed, cannot write: etcd refuses its fenced transaction.
  const absl::Status refused = store_a.Save(StateOf(4));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_EQ(deposed, 1);
  absl::StatusOr<std::optional<EtcdKeyValue>> current = client_b->Get(EtcdStateKey("t"));
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->value, StateOf(3).SerializeAsString());
}

TEST(EtcdCoordinationTest, LeaseAnswers) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::unique_ptr<EtcdClient> client = ClientOf(**etcd);
  absl::StatusOr<EtcdLease> lease = client->GrantLease(absl::Seconds(1));
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<absl::Duration> renewed =
      client->KeepAlive(lease->id, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(*renewed, absl::Seconds(1));
  ASSERT_TRUE(client->RevokeLease(lease->id).ok());
  renewed = client->KeepAlive(lease->id, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(*renewed, absl::ZeroDuration()) << "a gone lease renews with TTL 0, not an error";
  absl::StatusOr<EtcdLeaderKey> campaign =
      client->Campaign("/ps/t/election", lease->id, "x:1", absl::Now() + absl::Seconds(2));
  EXPECT_EQ(campaign.status().code(), absl::StatusCode::kNotFound) << campaign.status();
}

TEST(EtcdCoordinationTest, DefaultEtcdTimingsRaiseTheTtl) {
  PS_SKIP_WITHOUT_ETCD();
  // etcd's defaults (later flags win): leases below 1.5 election timeouts are raised to 2 s.
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd =
      TestEtcd::Start({"--election-timeout=1000", "--heartbeat-interval=100"});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::unique_ptr<EtcdClient> client = ClientOf(**etcd);
  LeaderElection election(*client, ElectionOptions("a:1"));
  ASSERT_TRUE(election.Lead().ok());
  EXPECT_EQ(election.granted_ttl(), absl::Seconds(2));
}

TEST(EtcdCoordinationTest, SaveRidesOutAnEtcdRestart) {
  PS_SKIP_WITHOUT_ETCD();
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::unique_ptr<EtcdClient> client = ClientOf(**etcd);
  LeaderElection election(*client, ElectionOptions("a:1"));
  absl::StatusOr<EtcdLeaderKey> office = election.Lead();
  ASSERT_TRUE(office.ok()) << office.status();
  EtcdStateStoreOptions options;
  options.cluster = "t";
  options.give_up_after = absl::Seconds(15);
  EtcdStateStore store(*client, *office, options, nullptr);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Save(StateOf(1)).ok());

  (*etcd)->Stop(SIGKILL);
  absl::Status saved;
  std::thread saving([&] { saved = store.Save(StateOf(2)); });  // Retries while etcd is down.
  ASSERT_TRUE((*etcd)->Restart().ok());
  saving.join();
  EXPECT_TRUE(saved.ok()) << saved;
  EXPECT_TRUE(store.Save(StateOf(3)).ok()) << "the mod revision followed";
  // etcd extends leases when it restarts: the next renewal succeeds and the leader serves again.
  const absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (!election.MayServe() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));  // Polls: renewals run every TTL/3.
  }
  EXPECT_TRUE(election.MayServe());
}

}  // namespace
}  // namespace ps::testing
