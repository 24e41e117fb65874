// ReadLibsvm on small files written here: the format it accepts and each error it reports.
#include "worker/data/libsvm_reader.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  EXPECT_TRUE(file.good()) << path;
  return path;
}

TEST(LibsvmReaderTest, ReadsLabelsKeysValuesAndSkipsCommentsAndBlankLines) {
  const std::string path = WriteFile("good.libsvm",
                                     "# a header comment\n"
                                     "+1 3:0.5 0:1 7:-2.25\n"
                                     "\n"
                                     "-1\t2:1e-3  # trailing comment\r\n"
                                     "   \n"
                                     "0 5:4\n"
                                     "1.0 1:1\n"
                                     "1\n");
  absl::StatusOr<SparseDataset> dataset = ReadLibsvm(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->num_examples(), 5);
  EXPECT_EQ(dataset->labels, (std::vector<float>{1, 0, 0, 1, 1}));
  EXPECT_EQ(dataset->offsets, (std::vector<size_t>{0, 3, 4, 5, 6, 6}));
  // Keys as given (0-based here), in line order.
  EXPECT_EQ(dataset->keys, (std::vector<uint64_t>{3, 0, 7, 2, 5, 1}));
  EXPECT_EQ(dataset->values, (std::vector<float>{0.5f, 1, -2.25f, 1e-3f, 4, 1}));
  EXPECT_EQ(dataset->key_space, 8u);
  EXPECT_EQ(dataset->description, absl::StrCat("LIBSVM (", path, ")"));
}

TEST(LibsvmReaderTest, MissingFileIsNotFound) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/no-such-file.libsvm");
  absl::StatusOr<SparseDataset> dataset = ReadLibsvm(path);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(dataset.status().message().find(path), std::string::npos) << dataset.status();
}

TEST(LibsvmReaderTest, EmptyFileIsAnError) {
  absl::StatusOr<SparseDataset> dataset = ReadLibsvm(WriteFile("empty.libsvm", "# nothing\n\n"));
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("no examples"), std::string::npos) << dataset.status();
}

// Each malformed line after a good first one: the error names file:2 and the bad token.
TEST(LibsvmReaderTest, EachMalformedTokenIsReportedWithItsPosition) {
  struct Case {
    std::string line;
    std::string expected;  // In the message besides "<path>:2: ".
  };
  const std::vector<Case> cases = {
      {"2 1:1", "label '2'"},
      {"yes 1:1", "label 'yes'"},
      {"1 4", "feature '4' has no colon"},
      {"1 a:1", "index 'a'"},
      {"1 -3:1", "feature '-3:1' has a negative index"},
      {"1 1.5:1", "index '1.5'"},
      {"1 3:x", "value 'x', expected a number"},
      {"1 3:", "value '', expected a number"},
      {"1 3:nan", "value 'nan', expected a finite one"},
      {"1 3:inf", "value 'inf', expected a finite one"},
      {"1 3:-inf", "value '-inf', expected a finite one"},
      {"1 3:1 3:2", "repeats index 3"},
      // key_space = largest index + 1 must fit in 64 bits.
      {"1 18446744073709551615:1", "expected at most 18446744073709551614"},
  };
  for (const Case& c : cases) {
    const std::string path = WriteFile("bad.libsvm", absl::StrCat("1 1:1\n", c.line, "\n"));
    absl::StatusOr<SparseDataset> dataset = ReadLibsvm(path);
    EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument) << c.line;
    const std::string message(dataset.status().message());
    EXPECT_NE(message.find(absl::StrCat(path, ":2: ")), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "line '" << c.line << "' gave: " << message;
  }
}

}  // namespace
}  // namespace ps
