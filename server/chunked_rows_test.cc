#include "server/chunked_rows.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(ChunkedRowsTest, RowsNeverMoveAndKeepTheirValuesAcrossManyChunks) {
  ChunkedRows<float> rows(16);  // 4096 rows per 256 KiB chunk.
  std::vector<const float*> addresses;
  for (int r = 0; r < 20000; ++r) {
    float* row = rows.Append(static_cast<float>(r));
    row[15] = -static_cast<float>(r);
    addresses.push_back(row);
  }
  ASSERT_EQ(rows.size(), 20000u);
  for (int r = 0; r < 20000; ++r) {
    ASSERT_EQ(rows.row(r), addresses[r]) << "row " << r << " moved";
    EXPECT_EQ(rows.row(r)[0], static_cast<float>(r));
    EXPECT_EQ(rows.row(r)[15], -static_cast<float>(r));
  }
}

TEST(ChunkedRowsTest, RowsWiderThanAChunkGetAChunkEach) {
  ChunkedRows<uint64_t> rows(100000);  // 800 KB rows: one per chunk.
  uint64_t* first = rows.Append(7);
  uint64_t* second = rows.Append(9);
  EXPECT_EQ(first[99999], 7u);
  EXPECT_EQ(second[0], 9u);
  EXPECT_EQ(rows.row(0), first);
  EXPECT_EQ(rows.row(1), second);
  ChunkedRows<uint64_t> other(100000);
  other.swap(rows);
  EXPECT_EQ(other.size(), 2u);
  EXPECT_EQ(rows.size(), 0u);
  EXPECT_EQ(other.row(1)[5], 9u);
}

}  // namespace
}  // namespace ps
