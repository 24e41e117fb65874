#include "common/file_util.h"

#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
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
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("no/such/dir"), std::string::npos);
}

TEST(AtomicFileWriterTest, NothingAppearsUntilCommit) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/pieces";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  {
    absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Open(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Append("new ").ok());
    ASSERT_TRUE(writer->Append("contents").ok());
    EXPECT_EQ(writer->bytes_written(), 12u);
    EXPECT_EQ(ReadAll(path), "old");
    // Destroyed without Commit: the old file stays.
  }
  EXPECT_EQ(ReadAll(path), "old");
  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Append("new contents").ok());
  ASSERT_TRUE(writer->Commit().ok());
  absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "new contents");
}

TEST(AtomicFileWriterTest, AWriteBeyondTheSpaceLeftFailsAndLeavesTheOldFile) {
  // A file-size limit makes write() fail as a full disk does (EFBIG rather than ENOSPC, both
  // ResourceExhausted), for real and without root.
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/limited";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 1000;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  const absl::Status status = WriteFileAtomically(path, std::string(4096, 'x'));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  EXPECT_EQ(ReadAll(path), "old");
  EXPECT_EQ(ErrnoToStatus("cannot write", path, ENOSPC).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_NE(ErrnoToStatus("cannot write", path, ENOSPC).message().find("No space left"),
            std::string::npos);
}

TEST(ReadFileToStringTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFileToString("/no/such/file").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ps
