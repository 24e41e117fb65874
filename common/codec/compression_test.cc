#include "common/codec/compression.h"

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(CompressionTest, ParsesEveryCodecAndNamesItBack) {
  for (const char* text : {"none", "fp16", "int8:256", "int8:64", "topk:0.01", "onebit:256"}) {
    absl::StatusOr<Compression> compression = ParseCompression(text);
    ASSERT_TRUE(compression.ok()) << text << ": " << compression.status();
    EXPECT_EQ(CompressionName(*compression), text);
  }
  EXPECT_EQ(ParseCompression("int8")->block_size, kDefaultCodecBlock);
  EXPECT_EQ(ParseCompression("onebit")->encoding, v1::ENCODING_ONEBIT);
  EXPECT_DOUBLE_EQ(ParseCompression("topk:0.25")->topk_ratio, 0.25);
  EXPECT_TRUE(ParseCompression("topk:0.01")->error_feedback());
  EXPECT_FALSE(ParseCompression("int8")->error_feedback());
}

TEST(CompressionTest, RejectsWhatItCannotMean) {
  for (const char* text : {"", "gzip", "topk", "topk:0", "topk:1.5", "topk:-0.1", "topk:x",
                           "int8:0", "int8:70000", "onebit:x", "fp16:2", "none:1"}) {
    EXPECT_EQ(ParseCompression(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(CompressionTest, EncodedSizesFollowTheLayouts) {
  const Compression int8 = *ParseCompression("int8:4");
  EXPECT_EQ(EncodedBytes(int8, 10), 3 * 4 + 10u);  // Blocks of 4, 4, 2.
  const Compression onebit = *ParseCompression("onebit:16");
  EXPECT_EQ(EncodedBytes(onebit, 20), 2 * 4 + 2 + 1u);  // 16 bits, then 4 bits in a byte.
  EXPECT_EQ(EncodedBytes(*ParseCompression("fp16"), 7), 14u);
  const Compression topk = *ParseCompression("topk:0.01");
  EXPECT_EQ(TopkCount(1000, 0.01), 10u);
  EXPECT_EQ(TopkCount(50, 0.01), 1u);  // Never nothing.
  EXPECT_EQ(TopkCount(0, 0.01), 0u);
  EXPECT_EQ(EncodedBytes(topk, 1000), 80u);
  // 1% top-k moves at most 1/50 of the dense bytes; one bit with 256-blocks under 1/25.
  EXPECT_LE(EncodedBytes(topk, 235146) * 50, 235146u * 4);
  EXPECT_LE(EncodedBytes(*ParseCompression("onebit"), 235146) * 25, 235146u * 4);
  const v1::TensorHeader header = DescribeEncoded(int8, 10);
  EXPECT_EQ(header.encoding(), v1::ENCODING_INT8_BLOCK);
  EXPECT_EQ(header.block_size(), 4u);
  EXPECT_EQ(header.payload_bytes(), 22u);
}

}  // namespace
}  // namespace ps
