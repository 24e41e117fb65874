#include "server/coordinator/state_store.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::string TempDir() {
  std::string pattern = absl::StrCat(testing::TempDir(), "/state_store_XXXXXX");
  const char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  return pattern;
}

v1::CoordinatorState SomeState() {
  v1::CoordinatorState state;
  state.set_generation(7);
  state.mutable_map()->set_epoch(12);
  state.mutable_map()->set_num_shards(4);
  v1::ServerInfo* server = state.mutable_map()->add_servers();
  server->set_server_id(3);
  server->set_incarnation(99);
  server->set_address("127.0.0.1:7001");
  state.set_next_server_id(4);
  return state;
}

TEST(LocalStateStoreTest, EmptyThenRoundTrip) {
  const std::string dir = TempDir() + "/new/coordinator";  // Created on open.
  auto store = OpenLocalStateStore(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  auto empty = (*store)->Load();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());
  ASSERT_TRUE((*store)->Save(SomeState()).ok());
  v1::CoordinatorState newer = SomeState();
  newer.set_generation(8);
  ASSERT_TRUE((*store)->Save(newer).ok());
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(**loaded, newer));
  EXPECT_NE((*store)->Describe().find(dir), std::string::npos);
}

TEST(LocalStateStoreTest, ASecondCoordinatorOnTheSameDirectoryIsRefused) {
  const std::string dir = TempDir();
  auto first = OpenLocalStateStore(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = OpenLocalStateStore(dir);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another coordinator"), std::string::npos);
  first->reset();
  EXPECT_TRUE(OpenLocalStateStore(dir).ok()) << "the lock goes with the store";
}

TEST(LocalStateStoreTest, DamageIsDataLossNeverAnEmptyCluster) {
  const std::string dir = TempDir();
  const std::string path = absl::StrCat(dir, "/", kStateFileName);
  auto store = OpenLocalStateStore(dir);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SomeState()).ok());
  auto contents = ReadFileToString(path);
  ASSERT_TRUE(contents.ok());

  const auto load_with = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return (*store)->Load().status();
  };
  std::string flipped = *contents;
  flipped[20] ^= 0x10;
  absl::Status status = load_with(flipped);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("checksum mismatch"), std::string::npos) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;

  status = load_with(contents->substr(0, contents->size() - 5));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status;

  status = load_with("");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("not a coordinator state file"), std::string::npos) << status;
}

}  // namespace
}  // namespace ps
