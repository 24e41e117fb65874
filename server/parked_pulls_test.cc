#include "server/parked_pulls.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// Shards are only compared by address here; these stand in for TableShard objects.
const TableShard* Shard(int i) {
  static char shards[8];
  return reinterpret_cast<const TableShard*>(&shards[i]);
}

class FakePull : public ParkedPull {
 public:
  explicit FakePull(std::vector<const TableShard*> shards) : shards_(std::move(shards)) {}
  std::vector<const TableShard*> shards() const override { return shards_; }
  bool Readable() const override {
    ++checks;
    return readable;
  }
  bool readable = false;
  mutable int checks = 0;

 private:
  const std::vector<const TableShard*> shards_;
};

std::vector<ParkedPull*> Sorted(std::vector<ParkedPull*> pulls) {
  std::sort(pulls.begin(), pulls.end());
  return pulls;
}

TEST(ParkedPullsTest, APushExaminesOnlyThePullsParkedOnTheShardsItTouched) {
  ParkedPulls parked;
  FakePull on_a({Shard(0)});
  FakePull on_b({Shard(1)});
  FakePull on_a_and_b({Shard(0), Shard(1)});
  for (FakePull* pull : {&on_a, &on_b, &on_a_and_b}) parked.Park(pull);
  on_a.readable = on_b.readable = true;

  const std::vector<const TableShard*> touched = {Shard(0)};
  EXPECT_EQ(parked.TakeReady(touched), std::vector<ParkedPull*>{&on_a});
  EXPECT_EQ(on_b.checks, 0);  // Parked elsewhere: not looked at.
  EXPECT_EQ(on_a_and_b.checks, 1);
  EXPECT_EQ(parked.size(), 2u);

  // Taken once: a second push on shard 0 finds only the two-shard pull, still not readable.
  on_a_and_b.readable = true;
  const std::vector<const TableShard*> both = {Shard(0), Shard(1)};
  EXPECT_EQ(Sorted(parked.TakeReady(both)), Sorted({&on_b, &on_a_and_b}));
  EXPECT_EQ(on_a_and_b.checks, 2);  // Once per push, though indexed under two touched shards.
  EXPECT_EQ(parked.size(), 0u);
  EXPECT_TRUE(parked.TakeReady(both).empty());
}

TEST(ParkedPullsTest, RemovedPullsAreForgottenOnEveryShard) {
  ParkedPulls parked;
  FakePull pull({Shard(2), Shard(3)});
  parked.Park(&pull);
  EXPECT_TRUE(parked.Remove(&pull));
  EXPECT_FALSE(parked.Remove(&pull));  // The client's cancel after an answer: nothing to do.
  pull.readable = true;
  const std::vector<const TableShard*> touched = {Shard(2), Shard(3)};
  EXPECT_TRUE(parked.TakeReady(touched).empty());
  EXPECT_EQ(pull.checks, 0);
}

TEST(ParkedPullsTest, TakeIfAndTakeAllEmptyTheIndex) {
  ParkedPulls parked;
  FakePull first({Shard(4)});
  FakePull second({Shard(5)});
  parked.Park(&first);
  parked.Park(&second);
  const std::vector<ParkedPull*> moved =
      parked.TakeIf([&](const ParkedPull& pull) { return &pull == &second; });
  EXPECT_EQ(moved, std::vector<ParkedPull*>{&second});
  EXPECT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked.TakeAll(), std::vector<ParkedPull*>{&first});
  EXPECT_EQ(parked.size(), 0u);
  first.readable = second.readable = true;
  const std::vector<const TableShard*> touched = {Shard(4), Shard(5)};
  EXPECT_TRUE(parked.TakeReady(touched).empty());
}

}  // namespace
}  // namespace ps
