// Frames: how Push and Pull travel (see proto/parameter_server.proto). A frame is a 4-byte
// little-endian header length, a serialized header message, then raw payload bytes. Building a
// frame borrows or pools the payload memory instead of copying it into a protobuf string; reading
// one parses only the header and leaves the payload in gRPC's receive slices, from which the
// server applies gradients directly.
#ifndef PS_COMMON_FRAME_H_
#define PS_COMMON_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace ps {

// A slice over `size` bytes at `data` without copying them. The caller keeps the memory alive and
// unchanged until the call that sends the frame has completed.
grpc::Slice BorrowedSlice(const void* data, size_t size);

// header length + header + `payload` slices, in order. The slices are referenced, not copied.
grpc::ByteBuffer MakeFrame(const google::protobuf::MessageLite& header,
                           const std::vector<grpc::Slice>& payload);

// Sequential reader over a frame's payload. Copyable; copies share the underlying slices, so a
// copy taken before a pass can re-read the same bytes (validate first, then apply).
class FrameReader {
 public:
  // Parses the header into `header`. The payload is not copied.
  // Errors: InvalidArgument when the frame is shorter than its header length or the header does
  // not parse.
  static absl::StatusOr<FrameReader> Open(const grpc::ByteBuffer& frame,
                                          google::protobuf::MessageLite* header);

  // Payload bytes not yet read.
  size_t remaining() const { return remaining_; }

  // Copies the next `size` bytes to `destination`.
  // Errors: OutOfRange (nothing is consumed) when fewer than `size` bytes remain.
  absl::Status Read(void* destination, size_t size);
  absl::Status Skip(size_t size);
  // Appends the next `size` bytes to `out` as slices that reference the frame's memory (no copy;
  // gRPC's slices are reference-counted), so a server can forward a payload it received.
  // Errors: OutOfRange (nothing is consumed) when fewer than `size` bytes remain.
  absl::Status ReadSlices(size_t size, std::vector<grpc::Slice>* out);

 private:
  FrameReader() = default;
  // Copies (or, with a null destination, skips) exactly `size` bytes; REQUIRES size <= remaining_.
  void Consume(char* destination, size_t size);

  std::vector<grpc::Slice> slices_;
  size_t slice_index_ = 0;
  size_t slice_offset_ = 0;
  size_t remaining_ = 0;
};

}  // namespace ps

#endif  // PS_COMMON_FRAME_H_
