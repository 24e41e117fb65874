// ReadIdxDataset on small IDX files written here, every error it reports, and the real
// Fashion-MNIST files where they are installed.
#include "worker/data/idx_reader.h"

#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

constexpr char kFashionMnistDirectory[] = "/usr/share/datasets/fashion-mnist";

void AppendBigEndian32(uint32_t value, std::vector<uint8_t>& bytes) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
}

std::vector<uint8_t> ImagesFile(uint32_t magic, uint32_t count, uint32_t rows, uint32_t columns,
                                const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> bytes;
  AppendBigEndian32(magic, bytes);
  AppendBigEndian32(count, bytes);
  AppendBigEndian32(rows, bytes);
  AppendBigEndian32(columns, bytes);
  bytes.insert(bytes.end(), pixels.begin(), pixels.end());
  return bytes;
}

std::vector<uint8_t> LabelsFile(uint32_t count, const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> bytes;
  AppendBigEndian32(0x00000801, bytes);
  AppendBigEndian32(count, bytes);
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/", name);
}

// Writes `bytes` gzip-compressed (as the dataset ships) or plain.
std::string WriteFile(const std::string& name, const std::vector<uint8_t>& bytes,
                      bool compressed = true) {
  const std::string path = TempPath(name);
  if (compressed) {
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr) << path;
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
  } else {
    FILE* file = std::fopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr) << path;
    EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), file), bytes.size());
    EXPECT_EQ(std::fclose(file), 0);
  }
  return path;
}

// Three 2x3 images whose pixels are 0, 15, ..., 255 (a multiple of 15 each) and labels 0, 9, 4.
const std::vector<uint8_t> kPixels = {0,   15,  30,  45,  60,  75,  90,  105, 120,
                                      135, 150, 165, 180, 195, 210, 225, 240, 255};
const std::vector<uint8_t> kLabels = {0, 9, 4};

TEST(IdxReaderTest, ReadsPixelsScaledToTheUnitIntervalAndLabels) {
  for (bool compressed : {true, false}) {
    const std::string images =
        WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, kPixels), compressed);
    const std::string labels = WriteFile("labels", LabelsFile(3, kLabels), compressed);
    absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    EXPECT_EQ(dataset->num_examples, 3);
    EXPECT_EQ(dataset->feature_dim, 6);
    EXPECT_EQ(dataset->num_classes, 10);
    ASSERT_EQ(dataset->features.size(), kPixels.size());
    for (size_t i = 0; i < kPixels.size(); ++i) {
      EXPECT_FLOAT_EQ(dataset->features[i], kPixels[i] / 255.0f) << "pixel " << i;
    }
    EXPECT_EQ(dataset->features.front(), 0.0f);
    EXPECT_EQ(dataset->features.back(), 1.0f);
    EXPECT_EQ(dataset->labels, (std::vector<int32_t>{0, 9, 4}));
    EXPECT_NE(dataset->description.find(images), std::string::npos) << dataset->description;
  }
}

TEST(IdxReaderTest, MissingFileIsNotFoundAndNamesThePath) {
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  const std::string missing = TempPath("no-such-images.gz");
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(missing, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(dataset.status().message().find(missing), std::string::npos) << dataset.status();
}

TEST(IdxReaderTest, WrongMagicNumberIsRejected) {
  const std::string images = WriteFile("images", ImagesFile(0x00000903, 3, 2, 3, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("magic number 0x00000903, expected 0x00000803"),
            std::string::npos)
      << dataset.status();
  // Swapping the two files is the likeliest form of this mistake.
  dataset = ReadIdxDataset(labels, images);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("expected 0x00000803"), std::string::npos)
      << dataset.status();
}

TEST(IdxReaderTest, TruncatedImagesSayHowManyBytesWereExpectedAndRead) {
  const std::vector<uint8_t> short_pixels(kPixels.begin(), kPixels.begin() + 12);
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, short_pixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(dataset.status().message().find("expected 18 bytes of pixel data, got 12"),
            std::string::npos)
      << dataset.status();
}

TEST(IdxReaderTest, TruncatedHeaderIsDataLoss) {
  const std::string images = WriteFile("images", {0x00, 0x00, 0x08});
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  EXPECT_EQ(ReadIdxDataset(images, labels).status().code(), absl::StatusCode::kDataLoss);
}

TEST(IdxReaderTest, TruncatedLabelsAreDataLoss) {
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, {0, 9}));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(dataset.status().message().find("expected 3 bytes of labels, got 2"), std::string::npos)
      << dataset.status();
}

TEST(IdxReaderTest, ImageAndLabelCountsMustAgree) {
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(4, {0, 9, 4, 1}));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("3 images"), std::string::npos) << dataset.status();
  EXPECT_NE(dataset.status().message().find("4 labels"), std::string::npos) << dataset.status();
}

TEST(IdxReaderTest, LabelOutOfRangeNamesItsIndex) {
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, {0, 9, 10}));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("label 10 at index 2"), std::string::npos)
      << dataset.status();
}

TEST(IdxReaderTest, BytesAfterTheDeclaredDataAreAnError) {
  std::vector<uint8_t> pixels = kPixels;
  pixels.push_back(7);
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, pixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dataset.status().message().find("1 bytes after the data"), std::string::npos)
      << dataset.status();
}

TEST(IdxReaderTest, AbsurdDimensionsAreRejectedBeforeAllocating) {
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  for (const auto& [count, rows, columns] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
           {3, 0, 3}, {0, 2, 3}, {3, 100000, 3}, {0x7fffffff, 28, 28}, {100000, 65536, 65536}}) {
    const std::string images =
        WriteFile("images", ImagesFile(0x00000803, count, rows, columns, kPixels));
    absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
    EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument)
        << count << " x " << rows << " x " << columns << ": " << dataset.status();
  }
}

// Found by idx_fuzzer: a 26-byte file whose header claimed 1.5 GB of pixels made the reader
// allocate (and zero) them all before finding the file truncated.
TEST(IdxReaderTest, AHeaderClaimingMoreThanTheFileHoldsAllocatesNoMoreThanTheFile) {
  // Two 32768 x 32768 images: 2 GiB of pixels claimed, 18 present.
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 2, 32768, 32768, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(2, {0, 1}));
  struct rusage before;
  getrusage(RUSAGE_SELF, &before);
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  struct rusage after;
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kDataLoss) << dataset.status();
  EXPECT_NE(dataset.status().message().find("expected 2147483648 bytes of pixel data, got 18"),
            std::string::npos)
      << dataset.status();
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024) << "peak RSS grew (KiB)";
}

TEST(IdxReaderTest, CorruptGzipStreamIsDataLoss) {
  const std::string images = WriteFile("images", ImagesFile(0x00000803, 3, 2, 3, kPixels));
  const std::string labels = WriteFile("labels", LabelsFile(3, kLabels));
  // Flip bytes in the middle of the compressed stream (after the 10-byte gzip header).
  FILE* file = std::fopen(images.c_str(), "r+b");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(std::fseek(file, 12, SEEK_SET), 0);
  const uint8_t garbage[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(std::fwrite(garbage, 1, sizeof(garbage), file), sizeof(garbage));
  ASSERT_EQ(std::fclose(file), 0);
  absl::StatusOr<DenseDataset> dataset = ReadIdxDataset(images, labels);
  EXPECT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find(images), std::string::npos) << dataset.status();
}

TEST(IdxReaderTest, ReadsTheInstalledFashionMnist) {
  FILE* probe =
      std::fopen(absl::StrCat(kFashionMnistDirectory, "/train-images-idx3-ubyte.gz").c_str(), "rb");
  if (probe == nullptr) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << kFashionMnistDirectory;
  }
  std::fclose(probe);
  absl::StatusOr<std::pair<DenseDataset, DenseDataset>> data =
      ReadFashionMnist(kFashionMnistDirectory);
  ASSERT_TRUE(data.ok()) << data.status();
  const DenseDataset& train = data->first;
  const DenseDataset& test = data->second;
  EXPECT_EQ(train.num_examples, 60000);
  EXPECT_EQ(test.num_examples, 10000);
  for (const DenseDataset* dataset : {&train, &test}) {
    EXPECT_EQ(dataset->feature_dim, 784);
    EXPECT_EQ(dataset->num_classes, 10);
    EXPECT_EQ(dataset->features.size(), static_cast<size_t>(dataset->num_examples) * 784);
    EXPECT_EQ(dataset->labels.size(), static_cast<size_t>(dataset->num_examples));
  }
  EXPECT_EQ(train.description, absl::StrCat("Fashion-MNIST train (", kFashionMnistDirectory, ")"));
  std::vector<int> train_counts(10), test_counts(10);
  for (int32_t label : train.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++train_counts[label];
  }
  for (int32_t label : test.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++test_counts[label];
  }
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  float low = 1, high = 0;
  for (float value : train.features) {
    low = std::min(low, value);
    high = std::max(high, value);
  }
  EXPECT_EQ(low, 0.0f);
  EXPECT_EQ(high, 1.0f);
}

}  // namespace
}  // namespace ps
