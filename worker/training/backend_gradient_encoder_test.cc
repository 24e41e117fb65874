#include "worker/training/backend_gradient_encoder.h"

#include <string>
#include <vector>

#include "common/codec/codec_test_util.h"
#include "gtest/gtest.h"
#include "worker/compute/cpu_backend.h"

namespace ps {
namespace {

std::vector<float> Decode(const EncodedValues& encoded) {
  const std::string payload(reinterpret_cast<const char*>(encoded.payload.begin()),
                            encoded.payload.size());
  absl::StatusOr<std::vector<float>> values =
      ValidateAndDecode(encoded.header, payload, encoded.header.num_elements());
  EXPECT_TRUE(values.ok()) << values.status();
  return values.ok() ? *values : std::vector<float>();
}

class BackendGradientEncoderTest : public ::testing::Test {
 protected:
  // `host` in backend memory.
  DeviceArray<float> OnBackend(const std::vector<float>& host) {
    absl::StatusOr<DeviceArray<float>> array = backend_->Allocate<float>(host.size());
    EXPECT_TRUE(array.ok());
    EXPECT_TRUE(backend_->Upload<float>(host, *array).ok());
    return std::move(*array);
  }

  std::unique_ptr<ComputeBackend> backend_ = CreateCpuBackend(1);
};

TEST_F(BackendGradientEncoderTest, TheResidualCarriesWhatTopkDidNotSendToTheNextPush) {
  auto encoder = BackendGradientEncoder::Create(backend_.get(), *ParseCompression("topk:0.5"), 8);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  // Two shard ranges of 4; each sends its 2 largest.
  const DeviceArray<float> first = OnBackend({4, 1, -3, 0.5f, 0, 0, 0, 2});
  (*encoder)->set_gradient(first.data());
  EXPECT_EQ(Decode(*(*encoder)->Encode(0, 4)), (std::vector<float>{4, 0, -3, 0}));
  EXPECT_EQ(Decode(*(*encoder)->Encode(4, 4)), (std::vector<float>{0, 0, 0, 2}));
  const DeviceArray<float> zeros = OnBackend(std::vector<float>(8, 0.0f));
  (*encoder)->set_gradient(zeros.data());
  EXPECT_EQ(Decode(*(*encoder)->Encode(0, 4)), (std::vector<float>{0, 1, 0, 0.5f}));
}

TEST_F(BackendGradientEncoderTest, EncodesTheRangeAskedFor) {
  auto encoder = BackendGradientEncoder::Create(backend_.get(), *ParseCompression("int8"), 6);
  ASSERT_TRUE(encoder.ok());
  const DeviceArray<float> gradient = OnBackend({1, 2, 3, -4, 5, -6});
  (*encoder)->set_gradient(gradient.data());
  absl::StatusOr<EncodedValues> encoded = (*encoder)->Encode(2, 3);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->header.encoding(), v1::ENCODING_INT8_BLOCK);
  const std::vector<float> decoded = Decode(*encoded);
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_NEAR(decoded[0], 3, 0.03);
  EXPECT_NEAR(decoded[1], -4, 0.03);
  EXPECT_FLOAT_EQ(decoded[2], 5);
}

TEST_F(BackendGradientEncoderTest, RefusesWhatItCannotEncode) {
  EXPECT_EQ(BackendGradientEncoder::Create(backend_.get(), Compression(), 4).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "float32 needs no encoder";
  auto encoder = BackendGradientEncoder::Create(backend_.get(), *ParseCompression("fp16"), 4);
  ASSERT_TRUE(encoder.ok());
  EXPECT_EQ((*encoder)->Encode(0, 4).status().code(), absl::StatusCode::kInvalidArgument)
      << "no gradient set yet";
  const DeviceArray<float> gradient = OnBackend({1, 2, 3, 4});
  (*encoder)->set_gradient(gradient.data());
  EXPECT_EQ((*encoder)->Encode(2, 3).status().code(), absl::StatusCode::kInvalidArgument)
      << "past the end";
  const DeviceArray<float> bad = OnBackend({1, NAN, 3, 4});
  (*encoder)->set_gradient(bad.data());
  EXPECT_EQ((*encoder)->Encode(0, 4).status().code(), absl::StatusCode::kInvalidArgument)
      << "a NaN gradient";
}

}  // namespace
}  // namespace ps
