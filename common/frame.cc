#include "common/frame.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace ps {
namespace {

constexpr size_t kLengthBytes = 4;
// Headers list slices, not payload; anything this large is malformed.
constexpr uint32_t kMaxHeaderBytes = 64u << 20;

}  // namespace

grpc::Slice BorrowedSlice(const void* data, size_t size) {
  return grpc::Slice(data, size, grpc::Slice::STATIC_SLICE);
}

grpc::ByteBuffer MakeFrame(const google::protobuf::MessageLite& header,
                           const std::vector<grpc::Slice>& payload) {
  const size_t header_size = header.ByteSizeLong();
  grpc::Slice head(kLengthBytes + header_size);
  // A freshly allocated slice that nobody else references yet.
  auto* bytes = const_cast<uint8_t*>(head.begin());
  for (size_t i = 0; i < kLengthBytes; ++i) bytes[i] = static_cast<uint8_t>(header_size >> (8 * i));
  header.SerializeWithCachedSizesToArray(bytes + kLengthBytes);
  std::vector<grpc::Slice> slices;
  slices.reserve(payload.size() + 1);
  slices.push_back(std::move(head));
  for (const grpc::Slice& slice : payload) {
    if (slice.size() > 0) slices.push_back(slice);
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

bool ParseMessage(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return message->ParseFromString(bytes);
}

absl::StatusOr<FrameReader> FrameReader::Open(const grpc::ByteBuffer& frame,
                                              google::protobuf::MessageLite* header) {
  FrameReader reader;
  if (!frame.Dump(&reader.slices_).ok()) {
    return absl::InvalidArgumentError("the request is not a readable byte stream");
  }
  for (const grpc::Slice& slice : reader.slices_) reader.remaining_ += slice.size();
  uint8_t length_bytes[kLengthBytes];
  if (!reader.Read(length_bytes, kLengthBytes).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a frame needs at least ", kLengthBytes, " bytes; got ", reader.remaining_));
  }
  uint32_t header_size = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) header_size |= uint32_t{length_bytes[i]} << (8 * i);
  if (header_size > kMaxHeaderBytes || header_size > reader.remaining_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the frame's header length ", header_size, " exceeds the ",
                     reader.remaining_, " bytes that follow it"));
  }
  std::string header_bytes(header_size, '\0');
  reader.Consume(header_bytes.data(), header_size);
  if (!header->ParseFromString(header_bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the frame's header does not parse as ", header->GetTypeName()));
  }
  return reader;
}

absl::Status FrameReader::Read(void* destination, size_t size) {
  if (size > remaining_) {
    return absl::OutOfRangeError(absl::StrCat("wanted ", size, " more payload bytes; the frame has ",
                                              remaining_));
  }
  Consume(static_cast<char*>(destination), size);
  return absl::OkStatus();
}

absl::Status FrameReader::Skip(size_t size) { return Read(nullptr, size); }

absl::StatusOr<FrameReader> FrameReader::Split(size_t size) {
  FrameReader part;
  if (absl::Status read = ReadSlices(size, &part.slices_); !read.ok()) return read;
  part.remaining_ = size;
  return part;
}

absl::Span<const char> FrameReader::Peek(size_t max_bytes) const {
  if (remaining_ == 0) return {};
  const grpc::Slice& slice = slices_[slice_index_];
  const size_t available = slice.size() - slice_offset_;
  return absl::Span<const char>(reinterpret_cast<const char*>(slice.begin()) + slice_offset_,
                                std::min(available, max_bytes));
}

absl::Status FrameReader::ReadSlices(size_t size, std::vector<grpc::Slice>* out) {
  if (size > remaining_) {
    return absl::OutOfRangeError(absl::StrCat("wanted ", size, " more payload bytes; the frame has ",
                                              remaining_));
  }
  remaining_ -= size;
  while (size > 0) {
    const grpc::Slice& slice = slices_[slice_index_];
    const size_t available = slice.size() - slice_offset_;
    const size_t n = available < size ? available : size;
    out->push_back(slice.sub(slice_offset_, slice_offset_ + n));
    size -= n;
    slice_offset_ += n;
    if (slice_offset_ == slice.size()) {
      ++slice_index_;
      slice_offset_ = 0;
    }
  }
  return absl::OkStatus();
}

void FrameReader::Consume(char* destination, size_t size) {
  remaining_ -= size;
  while (size > 0) {
    const grpc::Slice& slice = slices_[slice_index_];
    const size_t available = slice.size() - slice_offset_;
    const size_t n = available < size ? available : size;
    if (destination != nullptr) {
      std::memcpy(destination, slice.begin() + slice_offset_, n);
      destination += n;
    }
    size -= n;
    slice_offset_ += n;
    if (slice_offset_ == slice.size()) {
      ++slice_index_;
      slice_offset_ = 0;
    }
  }
}

}  // namespace ps
