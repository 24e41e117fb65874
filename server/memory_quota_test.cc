// MemoryQuota's limits and a sparse store's charges to it.
#include "server/memory_quota.h"

#include "gtest/gtest.h"
#include "server/shard_store.h"

namespace ps {
namespace {

TEST(MemoryQuotaTest, AdmitsWithinEachLimitAndNamesTheOneExceeded) {
  MemoryQuota quota({.server_bytes = 1000, .table_bytes = 600});
  quota.Charge(1, 500);
  quota.Charge(2, 300);
  EXPECT_TRUE(quota.Admit(1, "a", 100).ok());
  absl::Status table = quota.Admit(1, "a", 101);
  EXPECT_EQ(table.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(table.message().find("table 'a'"), absl::string_view::npos) << table;
  EXPECT_NE(table.message().find("--table_memory_mb"), absl::string_view::npos) << table;
  absl::Status server = quota.Admit(2, "b", 201);
  EXPECT_EQ(server.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(server.message().find("--memory_mb"), absl::string_view::npos) << server;
  EXPECT_TRUE(quota.Admit(2, "b", 200).ok());
  quota.Charge(1, -500);
  EXPECT_EQ(quota.used(), 300u);
  EXPECT_EQ(quota.used(1), 0u);
  EXPECT_TRUE(MemoryQuota().Admit(1, "a", uint64_t{1} << 60).ok()) << "unlimited by default";
}

v1::TableInfo Table(uint32_t id, v1::TableKind kind) {
  v1::TableInfo table;
  table.set_table_id(id);
  table.mutable_spec()->set_name("t");
  table.mutable_spec()->set_kind(kind);
  table.mutable_spec()->set_sparse_dim(kind == v1::TABLE_KIND_SPARSE ? 4 : 0);
  table.mutable_spec()->set_dense_size(kind == v1::TABLE_KIND_DENSE ? 1000 : 0);
  table.mutable_spec()->mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAM);
  table.mutable_spec()->mutable_optimizer()->set_learning_rate(0.1f);
  return table;
}

TEST(MemoryQuotaTest, StoresChargeWhatTheyHoldAndReleaseItWhenDropped) {
  MemoryQuota quota;
  {
    absl::StatusOr<std::unique_ptr<ShardStore>> dense =
        ShardStore::Create(Table(3, v1::TABLE_KIND_DENSE), 2, 0);
    ASSERT_TRUE(dense.ok()) << dense.status();
    (*dense)->AttachMemoryQuota(&quota);
    // Half of 1000 values, with Adam's two slots.
    EXPECT_EQ(quota.used(3), 500 * sizeof(float) * 3);
    absl::StatusOr<std::unique_ptr<ShardStore>> sparse =
        ShardStore::Create(Table(7, v1::TABLE_KIND_SPARSE), 1, 0);
    ASSERT_TRUE(sparse.ok()) << sparse.status();
    (*sparse)->AttachMemoryQuota(&quota);
    EXPECT_EQ(quota.used(7), 0u) << "no rows yet";
    v1::PushRequest header;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(header, {}), &header);
    ASSERT_TRUE(reader.ok()) << reader.status();
    PushPayload payload{{3, 5, 9}, {}, *reader};
    EXPECT_EQ((*sparse)->GrowthBytes(payload), 3 * (4 * sizeof(float) * 3 + 8 + 24));
    EXPECT_EQ((*dense)->GrowthBytes(payload), 0u);
    EXPECT_EQ(quota.used(), 500 * sizeof(float) * 3);
  }
  EXPECT_EQ(quota.used(), 0u) << "released when the stores go";
}

}  // namespace
}  // namespace ps
