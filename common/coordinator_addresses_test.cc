#include "common/coordinator_addresses.h"

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(CoordinatorAddressesTest, SplitsTrimsAndDropsEmptyEntries) {
  EXPECT_EQ(SplitCoordinatorAddresses("a:1"), std::vector<std::string>{"a:1"});
  EXPECT_EQ(SplitCoordinatorAddresses("a:1, b:2 ,,c:3,"),
            (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_TRUE(SplitCoordinatorAddresses(" , ").empty());
}

TEST(CoordinatorAddressesTest, FindsNoCoordinatorInAnEmptyList) {
  EXPECT_EQ(FindServingCoordinator("", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CoordinatorAddressesTest, NamesEveryAddressWhenNoneServes) {
  // Port 1 on loopback refuses at once.
  absl::StatusOr<std::string> found =
      FindServingCoordinator("127.0.0.1:1,127.0.0.1:2", absl::Milliseconds(200));
  ASSERT_EQ(found.status().code(), absl::StatusCode::kUnavailable) << found.status();
  EXPECT_NE(found.status().message().find("127.0.0.1:1"), absl::string_view::npos);
  EXPECT_NE(found.status().message().find("127.0.0.1:2"), absl::string_view::npos);
}

}  // namespace
}  // namespace ps
