#include "worker/client/keys_by_shard.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "common/partition.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::vector<uint64_t> Keys(const KeysByShard& batch, uint32_t shard) {
  const absl::Span<const uint64_t> keys = batch.keys(shard);
  return std::vector<uint64_t>(keys.begin(), keys.end());
}

std::vector<float> Rows(const KeysByShard& batch, uint32_t shard) {
  const absl::Span<const float> rows = batch.rows(shard);
  return std::vector<float>(rows.begin(), rows.end());
}

std::vector<size_t> Positions(const KeysByShard& batch, uint32_t shard) {
  const absl::Span<const size_t> positions = batch.positions(shard);
  return std::vector<size_t>(positions.begin(), positions.end());
}

TEST(KeysByShardTest, PushSumsRepeatedKeysInTheRowOfTheirFirstAppearance) {
  constexpr uint32_t kShards = 3;
  const std::vector<uint64_t> keys = {7, 11, 7, 30, 11, 7};
  const std::vector<float> gradients = {1, 2, 10, 20, 100, 200, 5, 6, 1000, 2000, 0.5f, 0.25f};
  KeysByShard batch;
  batch.GroupPush(keys, gradients, /*dim=*/2, kShards);

  std::map<uint64_t, std::vector<float>> expected = {
      {7, {1 + 100 + 0.5f, 2 + 200 + 0.25f}}, {11, {10 + 1000, 20 + 2000}}, {30, {5, 6}}};
  size_t total_keys = 0;
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    const std::vector<uint64_t> shard_keys = Keys(batch, shard);
    const std::vector<float> rows = Rows(batch, shard);
    ASSERT_EQ(rows.size(), shard_keys.size() * 2);
    for (size_t i = 0; i < shard_keys.size(); ++i) {
      EXPECT_EQ(SparseShardOf(shard_keys[i], kShards), shard);
      EXPECT_EQ(std::vector<float>(rows.begin() + 2 * i, rows.begin() + 2 * i + 2),
                expected.at(shard_keys[i]))
          << "key " << shard_keys[i];
    }
    EXPECT_TRUE(batch.positions(shard).empty());
    total_keys += shard_keys.size();
  }
  EXPECT_EQ(total_keys, 3u);
}

TEST(KeysByShardTest, PushKeepsTheOrderOfFirstAppearanceWithinAShard) {
  const std::vector<uint64_t> keys = {9, 4, 9, 1, 4};
  const std::vector<float> gradients = {1, 2, 3, 4, 5};
  KeysByShard batch;
  batch.GroupPush(keys, gradients, /*dim=*/1, /*num_shards=*/1);
  EXPECT_EQ(Keys(batch, 0), (std::vector<uint64_t>{9, 4, 1}));
  EXPECT_EQ(Rows(batch, 0), (std::vector<float>{1 + 3, 2 + 5, 4}));
}

TEST(KeysByShardTest, PullKeepsRepeatedKeysAndTheirPositions) {
  const std::vector<uint64_t> keys = {5, 8, 5, 2};
  KeysByShard batch;
  batch.GroupPull(keys, /*num_shards=*/1);
  EXPECT_EQ(Keys(batch, 0), keys);
  EXPECT_EQ(Positions(batch, 0), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_TRUE(batch.rows(0).empty());
}

TEST(KeysByShardTest, PullGroupsByShard) {
  constexpr uint32_t kShards = 4;
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; key < 100; ++key) keys.push_back(key * 7919);
  KeysByShard batch;
  batch.GroupPull(keys, kShards);
  size_t total = 0;
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    const std::vector<uint64_t> shard_keys = Keys(batch, shard);
    const std::vector<size_t> positions = Positions(batch, shard);
    ASSERT_EQ(positions.size(), shard_keys.size());
    for (size_t i = 0; i < shard_keys.size(); ++i) {
      EXPECT_EQ(SparseShardOf(shard_keys[i], kShards), shard);
      EXPECT_EQ(keys[positions[i]], shard_keys[i]);
      if (i > 0) {
        EXPECT_LT(positions[i - 1], positions[i]);
      }
    }
    total += shard_keys.size();
  }
  EXPECT_EQ(total, keys.size());
}

// A later call starts from nothing: no key, row or sum of the previous one shows through, even
// when the same keys come back and the shard count changes.
TEST(KeysByShardTest, CallsDoNotSeeEachOther) {
  KeysByShard batch;
  batch.GroupPush(std::vector<uint64_t>{1, 2, 3}, std::vector<float>{1, 2, 3}, 1, 2);
  batch.GroupPush(std::vector<uint64_t>{3, 3}, std::vector<float>{10, 20}, 1, 1);
  EXPECT_EQ(Keys(batch, 0), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Rows(batch, 0), (std::vector<float>{30}));
  batch.GroupPull(std::vector<uint64_t>{4}, 1);
  EXPECT_EQ(Keys(batch, 0), (std::vector<uint64_t>{4}));
  EXPECT_TRUE(batch.rows(0).empty());
}

// The buffers are reused: a second call of the same size hands out the same memory.
TEST(KeysByShardTest, ReusesItsBuffers) {
  constexpr size_t kKeys = 5000;
  std::vector<uint64_t> keys(kKeys);
  std::vector<float> gradients(kKeys * 4, 1.0f);
  std::mt19937_64 random(42);
  for (uint64_t& key : keys) key = random() % 2000;  // Many repeats.
  KeysByShard batch;
  batch.GroupPush(keys, gradients, 4, 2);
  const uint64_t* keys_before = batch.keys(0).data();
  const float* rows_before = batch.rows(0).data();
  const size_t count_before = batch.keys(0).size();
  float sum_before = 0;
  for (uint32_t shard = 0; shard < 2; ++shard) {
    for (float value : batch.rows(shard)) sum_before += value;
  }
  EXPECT_EQ(sum_before, static_cast<float>(kKeys * 4));  // Every gradient value counted once.

  batch.GroupPush(keys, gradients, 4, 2);
  EXPECT_EQ(batch.keys(0).data(), keys_before);
  EXPECT_EQ(batch.rows(0).data(), rows_before);
  EXPECT_EQ(batch.keys(0).size(), count_before);
}

// Many distinct keys: every one survives the index's probing exactly once.
TEST(KeysByShardTest, DistinctKeysAreAllKept) {
  constexpr size_t kKeys = 100000;
  std::vector<uint64_t> keys(kKeys);
  for (size_t i = 0; i < kKeys; ++i) keys[i] = i << 20;  // Low bits equal: a poor hash would clash.
  std::vector<float> gradients(kKeys);
  for (size_t i = 0; i < kKeys; ++i) gradients[i] = static_cast<float>(i);
  KeysByShard batch;
  batch.GroupPush(keys, gradients, 1, 1);
  ASSERT_EQ(batch.keys(0).size(), kKeys);
  for (size_t i = 0; i < kKeys; ++i) {
    EXPECT_EQ(batch.keys(0)[i], keys[i]);
    EXPECT_EQ(batch.rows(0)[i], gradients[i]);
  }
}

}  // namespace
}  // namespace ps
