// Encoding and decoding through real frames, for the codec tests (and the CUDA encoder's test,
// which compares its bytes with the CPU encoder's).
#ifndef PS_COMMON_CODEC_CODEC_TEST_UTIL_H_
#define PS_COMMON_CODEC_CODEC_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/compression.h"
#include "common/codec/decoder.h"
#include "common/codec/encoder.h"
#include "common/frame.h"
#include "gtest/gtest.h"

namespace ps {

// A payload with the header that describes it.
struct EncodedForTest {
  v1::TensorHeader header;
  std::string payload;
};

inline EncodedForTest EncodeForTest(const Compression& compression, absl::Span<const float> values,
                                    absl::Span<float> residual = {}) {
  EncodedForTest encoded{DescribeEncoded(compression, values.size()), std::string()};
  encoded.payload.resize(encoded.header.payload_bytes());
  const absl::Status status = EncodeTensor(compression, values, residual, encoded.payload.data());
  EXPECT_TRUE(status.ok()) << status;
  return encoded;
}

// Validates `payload` as `header` says (for `expected` values) inside a frame, as a server does,
// and decodes it when valid.
inline absl::StatusOr<std::vector<float>> ValidateAndDecode(const v1::TensorHeader& header,
                                                            const std::string& payload,
                                                            uint64_t expected) {
  const grpc::ByteBuffer frame = MakeFrame(header, {BorrowedSlice(payload.data(), payload.size())});
  v1::TensorHeader parsed;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &parsed);
  if (!reader.ok()) return reader.status();
  FrameReader validation = *reader;
  if (absl::Status valid = ValidateEncoded(parsed, expected, validation); !valid.ok()) {
    return valid;
  }
  std::vector<float> values(expected);
  DecodeInto(parsed, *reader, absl::MakeSpan(values));
  return values;
}

inline std::vector<float> DecodeForTest(const EncodedForTest& encoded) {
  absl::StatusOr<std::vector<float>> values =
      ValidateAndDecode(encoded.header, encoded.payload, encoded.header.num_elements());
  EXPECT_TRUE(values.ok()) << values.status();
  return values.ok() ? *values : std::vector<float>();
}

}  // namespace ps

#endif  // PS_COMMON_CODEC_CODEC_TEST_UTIL_H_
