#include "common/file_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ps {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(WriteFileAtomicallyTest, ReplacesContentsWhole) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/address";
  ASSERT_TRUE(WriteFileAtomically(path, "first contents that are longer\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "127.0.0.1:5\n").ok());
  EXPECT_EQ(ReadAll(path), "127.0.0.1:5\n");
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsAnErrorNotACrash) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/no/such/dir/file";
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("no/such/dir"), std::string::npos);
}

}  // namespace
}  // namespace ps
