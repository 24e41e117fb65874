#include "server/coordinator/etcd_state_store.h"

#include "gtest/gtest.h"
#include "server/coordinator/etcd_fake.h"

namespace ps {
namespace {

using ::ps::testing::FakeEtcd;

v1::CoordinatorState StateOf(uint64_t generation) {
  v1::CoordinatorState state;
  state.set_generation(generation);
  state.mutable_map()->set_epoch(generation);
  return state;
}

EtcdStateStoreOptions FastOptions() {
  EtcdStateStoreOptions options;
  options.cluster = "c1";
  options.initial_backoff = absl::Milliseconds(1);
  options.max_backoff = absl::Milliseconds(2);
  options.give_up_after = absl::Milliseconds(300);
  return options;
}

class EtcdStateStoreTest : public ::testing::Test {
 protected:
  // This test's coordinator leads election "c1".
  EtcdLeaderKey Lead() {
    absl::StatusOr<EtcdLease> lease = etcd_.GrantLease(absl::Seconds(1));
    if (!lease.ok()) {
      ADD_FAILURE() << lease.status();
      return {};
    }
    absl::StatusOr<EtcdLeaderKey> office =
        etcd_.Campaign(EtcdElectionName("c1"), lease->id, "me:1", absl::Now() + absl::Seconds(1));
    if (!office.ok()) {
      ADD_FAILURE() << office.status();
      return {};
    }
    lease_ = lease->id;
    return *office;
  }

  FakeEtcd etcd_;
  int64_t lease_ = 0;
  int deposed_ = 0;
  EtcdStateStore::DeposedCallback on_deposed_ = [this](const absl::Status&) { ++deposed_; };
};

TEST_F(EtcdStateStoreTest, SavesAndLoadsUnderTheClusterKey) {
  const EtcdLeaderKey office = Lead();
  EtcdStateStore store(etcd_, office, FastOptions(), on_deposed_);
  absl::StatusOr<std::optional<v1::CoordinatorState>> empty = store.Load();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  ASSERT_TRUE(store.Save(StateOf(2)).ok());
  EXPECT_TRUE(etcd_.HasKey("/ps/c1/state"));

  EtcdStateStore next(etcd_, office, FastOptions(), on_deposed_);  // A new store, same office.
  absl::StatusOr<std::optional<v1::CoordinatorState>> loaded = next.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->generation(), 2u);
  EXPECT_TRUE(next.Save(StateOf(3)).ok()) << "continues from the mod revision it loaded";
  EXPECT_EQ(deposed_, 0);
  EXPECT_EQ(store.Describe(), "etcd key /ps/c1/state");
}

TEST_F(EtcdStateStoreTest, DamagedValueIsDataLossNotAnEmptyCluster) {
  etcd_.Put("/ps/c1/state", "not a proto \xff\xff\xff");
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  absl::StatusOr<std::optional<v1::CoordinatorState>> loaded = store.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
}

TEST_F(EtcdStateStoreTest, DeposedLeaderCannotWrite) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  etcd_.ExpireLease(lease_);  // Paused past its TTL: another coordinator may lead.
  const int64_t puts = etcd_.puts();
  const absl::Status refused = store.Save(StateOf(2));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("deposed"), absl::string_view::npos) << refused;
  EXPECT_EQ(etcd_.puts(), puts) << "nothing written";
  EXPECT_EQ(deposed_, 1);
}

TEST_F(EtcdStateStoreTest, StateChangedUnderTheLeaderIsRefused) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  etcd_.Put("/ps/c1/state", StateOf(7).SerializeAsString());  // A second writer.
  const absl::Status refused = store.Save(StateOf(2));
  EXPECT_EQ(refused.code(), absl::StatusCode::kAborted) << refused;
  EXPECT_EQ(deposed_, 1);
}

TEST_F(EtcdStateStoreTest, FirstSaveExpectsNoStateWhenNoneWasLoaded) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  etcd_.Put("/ps/c1/state", StateOf(9).SerializeAsString());  // Appeared after the load.
  EXPECT_EQ(store.Save(StateOf(1)).code(), absl::StatusCode::kAborted);
}

TEST_F(EtcdStateStoreTest, CommittedWriteWhoseAnswerWasLostIsNotRepeated) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  etcd_.FailNextPuts({FakeEtcd::Fault::kCommitThenUnavailable});
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  EXPECT_EQ(etcd_.puts(), 2) << "the campaign key and one state write";
  // The store adopted the committed revision: the next save's guard holds.
  ASSERT_TRUE(store.Save(StateOf(2)).ok());
  EXPECT_EQ(deposed_, 0);
}

TEST_F(EtcdStateStoreTest, LostAnswerAndFailedReadBackStillResolves) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  etcd_.FailNextPuts({FakeEtcd::Fault::kCommitThenUnavailable});
  etcd_.FailNextGets(3);  // The read-back retries too.
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  ASSERT_TRUE(store.Save(StateOf(2)).ok());
}

TEST_F(EtcdStateStoreTest, UncommittedWriteIsRetried) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  etcd_.FailNextPuts({FakeEtcd::Fault::kUnavailable, FakeEtcd::Fault::kUnavailable});
  ASSERT_TRUE(store.Save(StateOf(1)).ok());
  absl::StatusOr<std::optional<EtcdKeyValue>> saved = etcd_.Get("/ps/c1/state");
  ASSERT_TRUE(saved.ok());
  ASSERT_TRUE(saved->has_value());
  EXPECT_EQ((*saved)->value, StateOf(1).SerializeAsString());
}

TEST_F(EtcdStateStoreTest, GivesUpWithUnavailableAfterTheBound) {
  EtcdStateStore store(etcd_, Lead(), FastOptions(), on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  std::deque<FakeEtcd::Fault> down(100000, FakeEtcd::Fault::kUnavailable);
  etcd_.FailNextPuts(down);
  const absl::Time start = absl::Now();
  const absl::Status failed = store.Save(StateOf(1));
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_NE(failed.message().find("etcd unreachable"), absl::string_view::npos) << failed;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(deposed_, 0) << "unreachable is not deposed";
  etcd_.FailNextPuts({});
  EXPECT_TRUE(store.Save(StateOf(2)).ok()) << "works again once etcd is back";
}

TEST_F(EtcdStateStoreTest, CompactsPeriodically) {
  EtcdStateStoreOptions options = FastOptions();
  options.compact_every_saves = 10;
  options.keep_revisions = 5;
  EtcdStateStore store(etcd_, Lead(), options, on_deposed_);
  ASSERT_TRUE(store.Load().ok());
  for (uint64_t g = 1; g <= 9; ++g) ASSERT_TRUE(store.Save(StateOf(g)).ok());
  EXPECT_EQ(etcd_.compacted(), 0);
  ASSERT_TRUE(store.Save(StateOf(10)).ok());
  EXPECT_EQ(etcd_.compacted(), etcd_.revision() - 5);
}

TEST(EtcdNamesTest, KeysAndClusterNames) {
  EXPECT_EQ(EtcdStateKey("prod"), "/ps/prod/state");
  EXPECT_EQ(EtcdElectionName("prod"), "/ps/prod/election");
  EXPECT_TRUE(ValidateClusterName("prod-1").ok());
  EXPECT_EQ(ValidateClusterName("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateClusterName("a/b").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseEtcdUrlTest, AcceptsEndpointListsAndExplainsMistakes) {
  absl::StatusOr<std::vector<std::string>> one = ParseEtcdUrl("etcd://127.0.0.1:2379");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, std::vector<std::string>{"127.0.0.1:2379"});
  absl::StatusOr<std::vector<std::string>> three =
      ParseEtcdUrl("etcd://a.example:2379,b.example:2379,10.0.0.3:2379");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->size(), 3u);
  for (const char* bad : {"127.0.0.1:2379", "http://127.0.0.1:2379", "etcd://", "etcd://host",
                          "etcd://host:0", "etcd://host:99999", "etcd://a:1,,b:2", "etcd://:2379",
                          "etcd://host:port"}) {
    absl::StatusOr<std::vector<std::string>> parsed = ParseEtcdUrl(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ps
