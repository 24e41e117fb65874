// Fuzz target: a frame whose header is a TensorHeader, validated and decoded as a server does
// with every push slice (common/codec/decoder.h). Property checked beyond "no crash": a payload
// that ValidateEncoded accepts decodes to exactly num_elements finite values.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/types/span.h"
#include "common/codec/decoder.h"
#include "common/frame.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/types.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  const grpc::ByteBuffer frame(&slice, 1);
  ps::v1::TensorHeader header;
  absl::StatusOr<ps::FrameReader> reader = ps::FrameReader::Open(frame, &header);
  if (!reader.ok()) return 0;
  // Bounded, as a server bounds it by the shard's size.
  constexpr uint64_t kMaxElements = uint64_t{1} << 20;
  if (header.num_elements() > kMaxElements) return 0;
  ps::FrameReader validated = *reader;
  if (!ps::ValidateEncoded(header, header.num_elements(), validated).ok()) return 0;
  if (header.encoding() == ps::v1::ENCODING_TOPK) return 0;  // Decoded by index, not streamed.
  ps::TensorDecoder decoder(header, *reader);
  std::vector<float> block(257);
  uint64_t decoded = 0;
  while (true) {
    const size_t n = decoder.Next(absl::MakeSpan(block));
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(block[i])) std::abort();  // Validation promised finite values.
    }
    decoded += n;
    if (n < block.size()) break;
  }
  if (decoded != header.num_elements()) std::abort();
  return 0;
}
