#include "common/codec/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/codec/codec_test_util.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

std::vector<float> Ramp(size_t n) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = std::sin(0.37f * i) * (1.0f + i % 7);
  return values;
}

EncodedForTest Encode(const char* codec, size_t n) {
  std::vector<float> residual(n, 0.0f);
  return EncodeForTest(*ParseCompression(codec), Ramp(n), absl::MakeSpan(residual));
}

absl::StatusCode Check(const EncodedForTest& encoded, uint64_t expected) {
  return ValidateAndDecode(encoded.header, encoded.payload, expected).status().code();
}

template <typename T>
void Put(std::string& payload, size_t offset, T value) {
  std::memcpy(payload.data() + offset, &value, sizeof(value));
}

TEST(DecoderTest, AcceptsWhatTheEncoderWrites) {
  for (const char* codec : {"none", "fp16", "int8", "int8:5", "topk:0.1", "onebit", "onebit:9"}) {
    EXPECT_EQ(Check(Encode(codec, 100), 100), absl::StatusCode::kOk) << codec;
    EXPECT_EQ(Check(Encode(codec, 0), 0), absl::StatusCode::kOk) << codec;
  }
}

TEST(DecoderTest, RejectsHeadersThatDisagreeWithThePayload) {
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  for (const char* codec : {"none", "fp16", "int8", "topk:0.1", "onebit"}) {
    const EncodedForTest good = Encode(codec, 100);
    EXPECT_EQ(Check(good, 99), kBad) << codec << ": element count";
    EncodedForTest longer = good;
    longer.header.set_payload_bytes(good.header.payload_bytes() + 8);
    longer.payload.append(8, '\0');
    EXPECT_EQ(Check(longer, 100), kBad) << codec << ": payload length";
    EncodedForTest truncated = good;
    truncated.payload.resize(truncated.payload.size() - 1);
    EXPECT_EQ(Check(truncated, 100), kBad) << codec << ": short frame";
  }
  EncodedForTest blocks = Encode("none", 10);
  blocks.header.set_block_size(4);
  EXPECT_EQ(Check(blocks, 10), kBad);
  for (uint32_t block : {0u, kMaxCodecBlock + 1}) {
    EncodedForTest int8 = Encode("int8:4", 10);
    int8.header.set_block_size(block);
    EXPECT_EQ(Check(int8, 10), kBad) << block;
  }
  EncodedForTest unknown = Encode("none", 10);
  unknown.header.set_encoding(static_cast<v1::Encoding>(42));
  EXPECT_EQ(Check(unknown, 10), kBad);
  unknown.header.set_encoding(v1::ENCODING_UNSPECIFIED);
  EXPECT_EQ(Check(unknown, 10), kBad);
}

TEST(DecoderTest, RejectsNonFiniteValuesAndScales) {
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  EncodedForTest f32 = Encode("none", 10);
  Put(f32.payload, 4 * 7, NAN);
  EXPECT_EQ(Check(f32, 10), kBad);
  EncodedForTest f16 = Encode("fp16", 10);
  Put<uint16_t>(f16.payload, 2 * 3, 0x7c00);  // +infinity
  EXPECT_EQ(Check(f16, 10), kBad);
  for (float scale : {NAN, INFINITY, -1.0f, 3e37f}) {
    EncodedForTest int8 = Encode("int8:4", 10);
    Put(int8.payload, 8, scale);  // The second block's scale.
    EXPECT_EQ(Check(int8, 10), kBad) << scale;
    EncodedForTest onebit = Encode("onebit:4", 10);
    Put(onebit.payload, 5, scale);  // Second block: after 4 + 1 bytes.
    EXPECT_EQ(Check(onebit, 10), scale == 3e37f ? absl::StatusCode::kOk : kBad) << scale;
  }
  EncodedForTest topk = Encode("topk:0.1", 100);  // k = 10: indices then values.
  Put(topk.payload, 40 + 4 * 2, INFINITY);
  EXPECT_EQ(Check(topk, 100), kBad);
}

TEST(DecoderTest, RejectsTopkIndicesOutOfRangeRepeatedOrOutOfOrder) {
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  const EncodedForTest good = Encode("topk:0.1", 100);
  uint32_t first, second;
  std::memcpy(&first, good.payload.data(), 4);
  std::memcpy(&second, good.payload.data() + 4, 4);
  EncodedForTest beyond = good;
  Put<uint32_t>(beyond.payload, 36, 100);  // The last index, one past the end.
  EXPECT_EQ(Check(beyond, 100), kBad);
  EncodedForTest repeated = good;
  Put(repeated.payload, 4, first);
  EXPECT_EQ(Check(repeated, 100), kBad);
  EncodedForTest swapped = good;
  Put(swapped.payload, 0, second);
  Put(swapped.payload, 4, first);
  EXPECT_EQ(Check(swapped, 100), kBad);
  EncodedForTest ragged = good;
  ragged.payload.resize(ragged.payload.size() - 4);
  ragged.header.set_payload_bytes(ragged.payload.size());
  EXPECT_EQ(Check(ragged, 100), kBad);
  // More pairs than values.
  EncodedForTest too_many = Encode("topk:1", 4);
  EXPECT_EQ(Check(too_many, 4), absl::StatusCode::kOk);
  too_many.header.set_num_elements(3);
  EXPECT_EQ(Check(too_many, 3), kBad);
  // A sender may choose its own k: fewer pairs are fine.
  EncodedForTest fewer = Encode("topk:0.05", 100);
  EXPECT_EQ(Check(fewer, 100), absl::StatusCode::kOk);
}

// Random corruption of headers and payloads: every mutant is either refused with
// InvalidArgument or decodes to exactly num_elements finite values. Never a crash or a hang.
TEST(DecoderTest, FuzzedPayloadsAreRefusedOrDecodeToFiniteValues) {
  std::mt19937 random(20261125);
  int refused = 0, accepted = 0;
  for (const char* codec : {"none", "fp16", "int8:16", "topk:0.1", "onebit:16"}) {
    const EncodedForTest good = Encode(codec, 200);
    for (int trial = 0; trial < 400; ++trial) {
      EncodedForTest mutant = good;
      switch (random() % 4) {
        case 0:  // Flip bytes in the payload.
          for (int flips = 1 + random() % 4; flips > 0 && !mutant.payload.empty(); --flips) {
            mutant.payload[random() % mutant.payload.size()] ^=
                static_cast<char>(1 + random() % 255);
          }
          break;
        case 1:  // Truncate or extend it, with or without a matching header.
          mutant.payload.resize(random() % (good.payload.size() + 20));
          if (random() % 2) mutant.header.set_payload_bytes(mutant.payload.size());
          break;
        case 2:  // Another block size.
          mutant.header.set_block_size(random() % 40);
          break;
        default:  // Another encoding.
          mutant.header.set_encoding(static_cast<v1::Encoding>(random() % 7));
          break;
      }
      absl::StatusOr<std::vector<float>> decoded =
          ValidateAndDecode(mutant.header, mutant.payload, 200);
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
        ++refused;
        continue;
      }
      ++accepted;
      ASSERT_EQ(decoded->size(), 200u);
      for (float value : *decoded) ASSERT_TRUE(std::isfinite(value)) << codec;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);
}

TEST(DecoderTest, StreamsInArbitraryPieces) {
  const EncodedForTest encoded = Encode("int8:7", 50);
  const std::vector<float> whole = DecodeForTest(encoded);
  const grpc::ByteBuffer frame =
      MakeFrame(encoded.header, {BorrowedSlice(encoded.payload.data(), encoded.payload.size())});
  v1::TensorHeader header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
  ASSERT_TRUE(reader.ok());
  TensorDecoder decoder(header, *reader);
  std::vector<float> pieces;
  for (size_t size = 1; pieces.size() < 50; size = size % 5 + 1) {
    float piece[5];
    const size_t n = decoder.Next(absl::MakeSpan(piece, size));
    ASSERT_GT(n, 0u);
    pieces.insert(pieces.end(), piece, piece + n);
  }
  float extra;
  EXPECT_EQ(decoder.Next(absl::MakeSpan(&extra, 1)), 0u);
  EXPECT_EQ(pieces, whole);
}

// The payload of `frame` re-cut into pieces of 1, 2, 3, ... 7 bytes (then again), so values start
// at every alignment and many straddle two slices, as HTTP/2 framing leaves them.
grpc::ByteBuffer PayloadInOddPieces(const std::string& payload) {
  std::vector<grpc::Slice> pieces;
  for (size_t start = 0, size = 1; start < payload.size(); start += size, size = size % 7 + 1) {
    pieces.emplace_back(payload.data() + start, std::min(size, payload.size() - start));
  }
  return grpc::ByteBuffer(pieces.data(), pieces.size());
}

TEST(DecoderTest, ChecksAndAppliesF32PayloadsAtAnyAlignment) {
  const EncodedForTest encoded = Encode("none", 1000);
  const std::vector<float> expected = Ramp(1000);
  for (size_t bad : {size_t{0}, size_t{1}, size_t{500}, size_t{999}, size_t{1000}}) {
    std::string payload = encoded.payload;
    if (bad < 1000) Put(payload, bad * sizeof(float), NAN);
    // A frame whose header is its own slice, then the payload in odd pieces.
    const grpc::ByteBuffer head = MakeFrame(encoded.header, {});
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(head.Dump(&slices).ok());
    std::vector<grpc::Slice> body;
    ASSERT_TRUE(PayloadInOddPieces(payload).Dump(&body).ok());
    slices.insert(slices.end(), body.begin(), body.end());
    const grpc::ByteBuffer frame(slices.data(), slices.size());
    v1::TensorHeader header;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
    ASSERT_TRUE(reader.ok()) << reader.status();
    FrameReader validated = *reader;
    const absl::Status valid = ValidateEncoded(header, 1000, validated);
    if (bad < 1000) {
      EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument) << bad;
      EXPECT_NE(valid.message().find(absl::StrCat("value ", bad, " is nan")), std::string::npos)
          << valid;
      continue;
    }
    ASSERT_TRUE(valid.ok()) << valid;
    std::vector<float> applied(1000, -1.0f);
    ForEachDecodedBlock(header, *reader, [&](uint64_t first, absl::Span<const float> block) {
      std::copy(block.begin(), block.end(), applied.begin() + first);
    });
    EXPECT_EQ(applied, expected);
  }
}

}  // namespace
}  // namespace ps
