#include "common/partition.h"

#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(DenseShardRangeTest, RangesTileTheTableWithSizesDifferingByAtMostOne) {
  for (uint64_t size : {0ULL, 1ULL, 7ULL, 12ULL, 1000003ULL}) {
    for (uint32_t shards : {1U, 3U, 12U}) {
      uint64_t expected_begin = 0;
      uint64_t smallest = ~0ULL, largest = 0;
      for (uint32_t s = 0; s < shards; ++s) {
        const DenseRange range = DenseShardRange(size, shards, s);
        EXPECT_EQ(range.begin, expected_begin) << size << " " << shards << " " << s;
        expected_begin = range.end;
        smallest = std::min(smallest, range.size());
        largest = std::max(largest, range.size());
      }
      EXPECT_EQ(expected_begin, size);
      EXPECT_LE(largest - smallest, 1U);
    }
  }
}

TEST(DenseShardRangeTest, HugeTablesDoNotOverflow) {
  const uint64_t size = 1ULL << 60;
  const DenseRange last = DenseShardRange(size, 16, 15);
  EXPECT_EQ(last.end, size);
  EXPECT_EQ(last.begin, size / 16 * 15);
}

TEST(SparseShardOfTest, SequentialKeysSpreadEvenly) {
  constexpr uint32_t kShards = 8;
  std::vector<int> counts(kShards, 0);
  for (uint64_t key = 0; key < 80000; ++key) {
    const uint32_t shard = SparseShardOf(key, kShards);
    ASSERT_LT(shard, kShards);
    ++counts[shard];
  }
  for (int count : counts) {
    EXPECT_GT(count, 9500);
    EXPECT_LT(count, 10500);
  }
  EXPECT_EQ(SparseShardOf(42, kShards), SparseShardOf(42, kShards));
}

}  // namespace
}  // namespace ps
