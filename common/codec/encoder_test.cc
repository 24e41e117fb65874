#include "common/codec/encoder.h"

#include <cmath>
#include <random>

#include "common/codec/codec_test_util.h"
#include "common/codec/half.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::vector<float> Gaussian(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(n);
  for (float& value : values) value = normal(random);
  return values;
}

TEST(HalfTest, KnownValuesRoundToNearestEvenAndSaturate) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(0.1f), 0x2e66);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(1e9f), 0x7bff);  // Saturates instead of overflowing.
  EXPECT_EQ(FloatToHalf(-1e9f), 0xfbff);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);         // Smallest subnormal.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);         // Tie: to even (zero).
  EXPECT_EQ(FloatToHalf(3 * std::ldexp(1.0f, -25)), 0x0002);     // Tie 1.5 units: to even (2).
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // Tie: to even.
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(FloatToHalf(INFINITY), 0x7c00);
  EXPECT_FALSE(HalfIsFinite(FloatToHalf(NAN)));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
}

TEST(HalfTest, EveryFiniteHalfSurvivesARoundTrip) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    if (!HalfIsFinite(half)) continue;
    EXPECT_EQ(FloatToHalf(HalfToFloat(half)), half) << bits;
  }
}

TEST(HalfTest, ArrayConversionsMatchTheScalarOnes) {
  std::vector<float> values = Gaussian(1003, 9, 1000.0f);  // Some beyond the half range.
  values[3] = INFINITY;
  values[17] = -1e-7f;  // A half subnormal.
  values[40] = NAN;
  std::vector<uint16_t> halves(values.size());
  FloatsToHalves(values.data(), values.size(), halves.data());
  std::vector<float> back(values.size());
  HalvesToFloats(halves.data(), halves.size(), back.data());
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(halves[i], FloatToHalf(values[i])) << i << ": " << values[i];
    if (i != 40) {
      ASSERT_EQ(back[i], HalfToFloat(halves[i])) << i;
    }
  }
  EXPECT_TRUE(std::isnan(back[40]));
}

TEST(EncoderTest, F16ErrorIsWithinHalfAnUlp) {
  const std::vector<float> values = Gaussian(10000, 1, 3.0f);
  const std::vector<float> decoded =
      DecodeForTest(EncodeForTest(*ParseCompression("fp16"), values));
  ASSERT_EQ(decoded.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    // Relative 2^-11 for normal halves, plus half a subnormal step near zero.
    EXPECT_LE(std::fabs(decoded[i] - values[i]),
              std::fabs(values[i]) * std::ldexp(1.0f, -11) + std::ldexp(1.0f, -25))
        << i;
  }
}

TEST(EncoderTest, Int8ErrorIsWithinHalfAStepOfEachBlocksScale) {
  std::vector<float> values = Gaussian(1000, 2);
  values[5] = 40.0f;  // One outlier coarsens only its own block.
  const Compression int8 = *ParseCompression("int8:64");
  const std::vector<float> decoded = DecodeForTest(EncodeForTest(int8, values));
  ASSERT_EQ(decoded.size(), values.size());
  for (size_t first = 0; first < values.size(); first += 64) {
    float max_magnitude = 0;
    const size_t end = std::min<size_t>(first + 64, values.size());
    for (size_t i = first; i < end; ++i) {
      max_magnitude = std::max(max_magnitude, std::fabs(values[i]));
    }
    for (size_t i = first; i < end; ++i) {
      EXPECT_LE(std::fabs(decoded[i] - values[i]), max_magnitude / 254 * 1.0001f) << i;
    }
  }
  EXPECT_FLOAT_EQ(decoded[5], 40.0f);  // The block maximum is exact.
}

TEST(EncoderTest, AllZeroBlocksDecodeToZero) {
  const std::vector<float> zeros(300, 0.0f);
  for (const char* codec : {"int8", "onebit"}) {
    std::vector<float> residual(zeros.size(), 0.0f);
    const std::vector<float> decoded =
        DecodeForTest(EncodeForTest(*ParseCompression(codec), zeros, absl::MakeSpan(residual)));
    for (float value : decoded) EXPECT_EQ(std::fabs(value), 0.0f) << codec;
  }
}

TEST(EncoderTest, TopkSendsTheLargestMagnitudesLowerIndexFirstOnTies) {
  const std::vector<float> values = {0.5f, -3.0f, 1.0f, 3.0f, -1.0f, 0.0f, 2.0f, -2.0f, 1.0f, 0.1f};
  std::vector<float> residual(values.size(), 0.0f);
  const Compression topk = *ParseCompression("topk:0.5");  // k = 5.
  const std::vector<float> decoded =
      DecodeForTest(EncodeForTest(topk, values, absl::MakeSpan(residual)));
  // |3|, |-3|, |2|, |-2| and the first |1| (index 2) of the three tied at 1.
  EXPECT_EQ(decoded, (std::vector<float>{0, -3, 1, 3, 0, 0, 2, -2, 0, 0}));
  EXPECT_EQ(residual, (std::vector<float>{0.5f, 0, 0, 0, -1, 0, 0, 0, 1, 0.1f}));
}

// The k chosen by a full stable sort (largest magnitude first, lower index first among ties).
std::vector<float> TopkByFullSort(const std::vector<float>& values, size_t k) {
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return std::fabs(values[a]) > std::fabs(values[b]); });
  std::vector<float> chosen(values.size(), 0.0f);
  for (size_t j = 0; j < k; ++j) chosen[order[j]] = values[order[j]];
  return chosen;
}

TEST(EncoderTest, TopkMatchesAFullSortOnLargeAndSkewedSlices) {
  // Large: the sampled threshold estimate narrows the search.
  std::vector<float> large = Gaussian(100003, 4);
  for (size_t i = 0; i < large.size(); i += 7) large[i] = std::round(large[i] * 4) / 4;  // Ties.
  // Skewed: every sampled position (stride 19) is large, so the estimate overshoots and the
  // encoder must fall back to selecting among all values.
  std::vector<float> skewed(20000, 1.0f);
  for (size_t i = 0; i < 1024; ++i) skewed[i * 19] = 10.0f;
  skewed[5] = -3.0f;
  for (const auto& [values, ratio] :
       std::vector<std::pair<std::vector<float>, double>>{{large, 0.01}, {skewed, 0.075}}) {
    const Compression topk{v1::ENCODING_TOPK, ratio, 0};
    std::vector<float> residual(values.size(), 0.0f);
    const std::vector<float> sent =
        DecodeForTest(EncodeForTest(topk, values, absl::MakeSpan(residual)));
    EXPECT_EQ(sent, TopkByFullSort(values, TopkCount(values.size(), ratio))) << values.size();
  }
}

// Error feedback loses nothing: after any number of steps, what was sent plus what is still held
// back equals the sum of every gradient.
TEST(EncoderTest, ErrorFeedbackConservesTheGradientSum) {
  for (const char* codec : {"topk:0.01", "topk:0.2", "onebit", "onebit:7"}) {
    const Compression compression = *ParseCompression(codec);
    const size_t n = 3001;
    std::vector<float> residual(n, 0.0f);
    std::vector<double> gradient_sum(n, 0.0), sent_sum(n, 0.0);
    for (int step = 0; step < 40; ++step) {
      const std::vector<float> gradient = Gaussian(n, 100 + step, 0.1f + step * 0.01f);
      const std::vector<float> sent =
          DecodeForTest(EncodeForTest(compression, gradient, absl::MakeSpan(residual)));
      ASSERT_EQ(sent.size(), n);
      for (size_t i = 0; i < n; ++i) {
        gradient_sum[i] += gradient[i];
        sent_sum[i] += sent[i];
      }
    }
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      worst = std::max(worst, std::fabs(sent_sum[i] + residual[i] - gradient_sum[i]));
    }
    EXPECT_LT(worst, 1e-4) << codec;
  }
}

TEST(EncoderTest, OneBitSendsSignsScaledByEachBlocksMeanMagnitude) {
  const std::vector<float> values = {1.0f, -3.0f, 2.0f, 0.0f, -4.0f};
  std::vector<float> residual(values.size(), 0.0f);
  const std::vector<float> decoded =
      DecodeForTest(EncodeForTest(*ParseCompression("onebit:3"), values, absl::MakeSpan(residual)));
  // Block {1, -3, 2}: mean magnitude 2. Block {0, -4}: 2, and zero counts as positive.
  EXPECT_EQ(decoded, (std::vector<float>{2, -2, 2, 2, -2}));
  EXPECT_EQ(residual, (std::vector<float>{-1, -1, 0, -2, -2}));
}

TEST(EncoderTest, WritesExactlyTheAdvertisedBytes) {
  const std::vector<float> values = Gaussian(777, 3);
  for (const char* codec : {"none", "fp16", "int8:100", "topk:0.03", "onebit:50"}) {
    const Compression compression = *ParseCompression(codec);
    std::vector<float> residual(values.size(), 0.0f);
    const uint64_t bytes = EncodedBytes(compression, values.size());
    std::string buffer(bytes + 16, '\x5a');
    ASSERT_TRUE(EncodeTensor(compression, values, absl::MakeSpan(residual), buffer.data()).ok());
    EXPECT_EQ(buffer.substr(bytes), std::string(16, '\x5a')) << codec;
  }
}

TEST(EncoderTest, RefusesNonFiniteGradientsAndMissingResiduals) {
  std::vector<float> values = {1.0f, NAN, 2.0f};
  std::vector<float> residual(3, 0.0f);
  std::string out(64, '\0');
  EXPECT_EQ(
      EncodeTensor(*ParseCompression("int8"), values, absl::MakeSpan(residual), out.data()).code(),
      absl::StatusCode::kInvalidArgument);
  values[1] = 0.0f;
  EXPECT_EQ(EncodeTensor(*ParseCompression("topk:0.5"), values, {}, out.data()).code(),
            absl::StatusCode::kInvalidArgument);
  Compression no_blocks = *ParseCompression("int8");
  no_blocks.block_size = 0;
  EXPECT_EQ(EncodeTensor(no_blocks, values, {}, out.data()).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
