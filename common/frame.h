// Frames: how Push and Pull travel (see proto/parameter_server.proto). A frame is a 4-byte
// little-endian header length, a serialized header message, then raw payload bytes. Building a
// frame borrows or pools the payload memory instead of copying it into a protobuf string; reading
// one parses only the header and leaves the payload in gRPC's receive slices, from which the
// server applies gradients directly.
#ifndef PS_COMMON_FRAME_H_
#define PS_COMMON_FRAME_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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

// Parses `buffer` as a plain (non-frame) protobuf message, e.g. a PushResponse or a raw
// FetchShardSnapshotRequest. Returns false when it does not parse.
bool ParseMessage(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message);

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
  // Consumes the next `size` bytes and returns a reader over just them (sharing the slices), so a
  // frame that carries two payloads back to back can hand each to its own parser.
  // Errors: OutOfRange (nothing is consumed) when fewer than `size` bytes remain.
  absl::StatusOr<FrameReader> Split(size_t size);
  // The next payload bytes that lie contiguous in one received slice, at most `max_bytes` of
  // them, without consuming them (Skip does). Empty only when nothing remains. Lets a reader use
  // values where gRPC received them instead of copying them out first.
  absl::Span<const char> Peek(size_t max_bytes) const;
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

// Calls fn(first_index, bytes, n) over the next `count` elements of type T (a trivially copyable
// number), n at a time (at most `max_run`), consuming them, and stops at the first non-OK status
// fn returns. `bytes` holds n whole elements where gRPC received them, at any alignment (HTTP/2
// framing shifts a payload's alignment every 16 KB), so fn loads them with memcpy; only an element
// that straddles two slices is copied first. A validation pass thus reads the payload once.
// Errors: OutOfRange (nothing is consumed) when fewer than count * sizeof(T) bytes remain; what
// fn returns.
template <typename T, typename Fn>
absl::Status ForEachRawRun(FrameReader& reader, uint64_t count, size_t max_run, Fn&& fn) {
  if (count > reader.remaining() / sizeof(T)) {
    return reader.Skip(count * sizeof(T));  // The OutOfRange error, nothing consumed.
  }
  for (uint64_t first = 0; first < count;) {
    const absl::Span<const char> view =
        reader.Peek(std::min<uint64_t>(count - first, max_run) * sizeof(T));
    size_t n = view.size() / sizeof(T);
    absl::Status status;
    if (n > 0) {
      status = fn(first, view.data(), n);
      reader.Skip(n * sizeof(T)).IgnoreError();
    } else {
      char straddling[sizeof(T)];
      n = 1;
      reader.Read(straddling, sizeof(T)).IgnoreError();
      status = fn(first, static_cast<const char*>(straddling), n);
    }
    if (!status.ok()) return status;
    first += n;
  }
  return absl::OkStatus();
}

// ForEachRawRun for passes that want typed values: fn(first_index, absl::Span<const T>). Runs are
// the received bytes themselves where aligned for T; misaligned ones go through a small
// cache-resident copy.
template <typename T, typename Fn>
absl::Status ForEachRun(FrameReader& reader, uint64_t count, size_t max_run, Fn&& fn) {
  constexpr size_t kCopyRun = 1024;
  alignas(64) T copy[kCopyRun];
  return ForEachRawRun<T>(
      reader, count, max_run, [&](uint64_t first, const char* bytes, size_t n) -> absl::Status {
        if (reinterpret_cast<uintptr_t>(bytes) % alignof(T) == 0) {
          return fn(first, absl::Span<const T>(reinterpret_cast<const T*>(bytes), n));
        }
        for (size_t done = 0; done < n;) {
          const size_t m = std::min(kCopyRun, n - done);
          std::memcpy(copy, bytes + done * sizeof(T), m * sizeof(T));
          if (absl::Status status = fn(first + done, absl::Span<const T>(copy, m));
              !status.ok()) {
            return status;
          }
          done += m;
        }
        return absl::OkStatus();
      });
}

}  // namespace ps

#endif  // PS_COMMON_FRAME_H_
