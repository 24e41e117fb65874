#include "worker/model/model_file.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

MlpModel SmallModel() {
  MlpModel model;
  model.layer_sizes = {3, 2, 2};  // 3*2+2 + 2*2+2 = 14 parameters.
  for (int i = 0; i < 14; ++i) model.parameters.push_back(0.25f * i - 1.0f);
  return model;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(ModelFileTest, RoundTripsExactly) {
  const std::string path = TempPath("round_trip.psmlp");
  ASSERT_TRUE(WriteMlpModel(path, SmallModel()).ok());
  absl::StatusOr<MlpModel> read = ReadMlpModel(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->layer_sizes, SmallModel().layer_sizes);
  EXPECT_EQ(read->parameters, SmallModel().parameters);
  // 8 magic + 4 + 3*4 sizes + 8 count + 14*4 values + 4 checksum.
  EXPECT_EQ(ReadBytes(path).size(), 8u + 4 + 12 + 8 + 56 + 4);
}

TEST(ModelFileTest, RefusesToWriteAnInconsistentModel) {
  MlpModel model = SmallModel();
  model.parameters.pop_back();
  EXPECT_EQ(WriteMlpModel(TempPath("short.psmlp"), model).code(),
            absl::StatusCode::kInvalidArgument);
  model = SmallModel();
  model.parameters[3] = std::nanf("");
  EXPECT_EQ(WriteMlpModel(TempPath("nan.psmlp"), model).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelFileTest, DetectsCorruption) {
  const std::string path = TempPath("good.psmlp");
  ASSERT_TRUE(WriteMlpModel(path, SmallModel()).ok());
  const std::string good = ReadBytes(path);
  struct Case {
    std::string name, bytes, message;
  };
  std::string flipped = good;
  flipped[40] ^= 0x01;
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() - 9), "expected"},
      {"overlong", good + "x", "expected"},
      {"flipped", flipped, "checksum"},
      {"magic", bad_magic, "magic"},
      {"empty", "", "magic"},
  };
  for (const Case& c : cases) {
    const std::string corrupt_path = TempPath(c.name + ".psmlp");
    WriteBytes(corrupt_path, c.bytes);
    absl::StatusOr<MlpModel> read = ReadMlpModel(corrupt_path);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << c.name;
    EXPECT_TRUE(absl::StrContains(read.status().message(), c.message))
        << c.name << ": " << read.status();
  }
  EXPECT_EQ(ReadMlpModel(TempPath("missing.psmlp")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ps
