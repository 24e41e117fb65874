#include "server/dedupe_table.h"

#include "gtest/gtest.h"

namespace ps {
namespace {

bool IsDuplicate(const DedupeTable& table, uint32_t worker, uint64_t incarnation, uint64_t seq) {
  absl::StatusOr<bool> seen = table.Check(worker, incarnation, seq);
  EXPECT_TRUE(seen.ok()) << seen.status();
  return seen.ok() && *seen;
}

TEST(DedupeTableTest, AppliedSeqsAreDuplicatesAndNewOnesAreNot) {
  DedupeTable table;
  EXPECT_FALSE(IsDuplicate(table, 1, 10, 1));
  table.Record(1, 10, 1);
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 1));
  EXPECT_FALSE(IsDuplicate(table, 1, 10, 2));
  EXPECT_FALSE(IsDuplicate(table, 2, 10, 1)) << "workers are independent";
}

TEST(DedupeTableTest, ASkippedSeqBelowTheHighestIsAppliedNotAcknowledged) {
  DedupeTable table;
  table.Record(1, 10, 1);
  table.Record(1, 10, 3);  // seq 2 overtaken, not applied yet.
  EXPECT_FALSE(IsDuplicate(table, 1, 10, 2)) << "seq 2 was never applied";
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 1));
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 3));
  table.Record(1, 10, 2);
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 2));
}

TEST(DedupeTableTest, WindowSlidesAndTooOldSeqsAreErrors) {
  DedupeTable table;
  for (uint64_t seq = 1; seq <= 100; ++seq) table.Record(1, 10, seq);
  for (uint64_t seq = 100 - DedupeTable::kWindow; seq <= 100; ++seq) {
    EXPECT_TRUE(IsDuplicate(table, 1, 10, seq)) << seq;
  }
  absl::StatusOr<bool> old = table.Check(1, 10, 100 - DedupeTable::kWindow - 1);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  // A jump past the whole window forgets everything below the new highest.
  table.Record(1, 10, 300);
  EXPECT_FALSE(IsDuplicate(table, 1, 10, 299));
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 300));
}

TEST(DedupeTableTest, JumpOfExactlyTheWindowKeepsTheOldHighest) {
  DedupeTable table;
  table.Record(1, 10, 1);
  table.Record(1, 10, 1 + DedupeTable::kWindow);
  EXPECT_TRUE(IsDuplicate(table, 1, 10, 1));
  EXPECT_FALSE(IsDuplicate(table, 1, 10, 2));
}

TEST(DedupeTableTest, IncarnationsReplaceEachOther) {
  DedupeTable table;
  table.Record(1, 10, 5);
  EXPECT_FALSE(IsDuplicate(table, 1, 11, 5)) << "a new incarnation starts afresh";
  table.Record(1, 11, 1);
  EXPECT_EQ(table.Check(1, 10, 6).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table.Check(1, 11, 0).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(DedupeTableTest, SerializeInstallRoundTrips) {
  DedupeTable table;
  table.Record(3, 7, 1);
  table.Record(3, 7, 4);
  table.Record(1, 9, 2);
  google::protobuf::RepeatedPtrField<v1::DedupeRecord> records;
  table.Serialize(&records);
  ASSERT_EQ(records.size(), 2);
  EXPECT_EQ(records[0].worker_id(), 1u) << "canonical order";
  DedupeTable copy;
  copy.Install(records);
  google::protobuf::RepeatedPtrField<v1::DedupeRecord> again;
  copy.Serialize(&again);
  ASSERT_EQ(again.size(), records.size());
  for (int i = 0; i < records.size(); ++i) {
    EXPECT_EQ(again[i].SerializeAsString(), records[i].SerializeAsString());
  }
  EXPECT_FALSE(IsDuplicate(copy, 3, 7, 2));
  EXPECT_TRUE(IsDuplicate(copy, 3, 7, 1));
}

}  // namespace
}  // namespace ps
