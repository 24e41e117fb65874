#include "common/checkpoint/shard_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/frame.h"

namespace ps {
namespace {

constexpr char kMagic[8] = {'P', 'S', 'S', 'H', 'A', 'R', 'D', '1'};
constexpr size_t kPrefixBytes = sizeof(kMagic) + sizeof(uint64_t);
constexpr size_t kTrailerBytes = sizeof(uint32_t);

absl::string_view View(const grpc::Slice& slice) {
  return absl::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

// Appends `bytes` to the file and the checksum.
absl::Status Put(AtomicFileWriter& writer, uint32_t& crc, absl::string_view bytes) {
  crc = Crc32c(crc, bytes.data(), bytes.size());
  return writer.Append(bytes);
}

// Reads exactly `size` bytes (fewer only at the end of the file: returns how many).
absl::StatusOr<size_t> ReadFully(int fd, char* out, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, out + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus("cannot read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

absl::StatusOr<ShardFileInfo> WriteShardFile(const std::string& path, const v1::ShardState& state,
                                             const std::vector<grpc::Slice>& payload) {
  const std::string header = state.SerializeAsString();
  const uint32_t header_length = static_cast<uint32_t>(header.size());
  uint64_t frame_length = sizeof(header_length) + header.size();
  for (const grpc::Slice& slice : payload) frame_length += slice.size();

  absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Open(path);
  if (!writer.ok()) return writer.status();
  uint32_t crc = 0;
  absl::Status status = Put(*writer, crc, absl::string_view(kMagic, sizeof(kMagic)));
  // Little-endian on every platform we build for (x86-64, aarch64), like the frames.
  if (status.ok()) {
    status = Put(*writer, crc,
                 absl::string_view(reinterpret_cast<const char*>(&frame_length), 8));
  }
  if (status.ok()) {
    status = Put(*writer, crc,
                 absl::string_view(reinterpret_cast<const char*>(&header_length), 4));
  }
  if (status.ok()) status = Put(*writer, crc, header);
  for (const grpc::Slice& slice : payload) {
    if (!status.ok()) break;
    status = Put(*writer, crc, View(slice));
  }
  if (status.ok()) {
    status = writer->Append(absl::string_view(reinterpret_cast<const char*>(&crc), 4));
  }
  if (status.ok()) status = writer->Commit();
  if (!status.ok()) return status;
  return ShardFileInfo{kPrefixBytes + frame_length + kTrailerBytes, crc};
}

absl::StatusOr<ShardFileReader> ShardFileReader::Open(const std::string& path) {
  ShardFileReader reader;
  reader.path_ = path;
  reader.fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader.fd_ < 0) return ErrnoToStatus("cannot open", path, errno);
  struct stat info;
  if (fstat(reader.fd_, &info) != 0) return ErrnoToStatus("cannot stat", path, errno);
  reader.file_size_ = static_cast<uint64_t>(info.st_size);

  char prefix[kPrefixBytes + sizeof(uint32_t)];
  absl::StatusOr<size_t> got = ReadFully(reader.fd_, prefix, sizeof(prefix), path);
  if (!got.ok()) return got.status();
  if (*got < kPrefixBytes || std::memcmp(prefix, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a shard checkpoint file (no PSSHARD1 header)"));
  }
  uint64_t frame_length = 0;
  std::memcpy(&frame_length, prefix + sizeof(kMagic), 8);
  const uint64_t expected = kPrefixBytes + frame_length + kTrailerBytes;
  if (frame_length < sizeof(uint32_t) || frame_length > reader.file_size_ ||
      expected != reader.file_size_ || *got < sizeof(prefix)) {
    return absl::DataLossError(absl::StrCat(path, ": truncated or overlong: the header says ",
                                            expected, " bytes, the file has ",
                                            reader.file_size_));
  }
  uint32_t header_length = 0;
  std::memcpy(&header_length, prefix + kPrefixBytes, sizeof(header_length));
  if (header_length > frame_length - sizeof(uint32_t)) {
    return absl::DataLossError(absl::StrCat(path, ": the shard state's header length (",
                                            header_length, ") exceeds its frame: corrupt"));
  }
  reader.header_bytes_.resize(header_length);
  got = ReadFully(reader.fd_, reader.header_bytes_.data(), header_length, path);
  if (!got.ok()) return got.status();
  if (*got != header_length) return absl::DataLossError(absl::StrCat(path, ": truncated"));
  reader.crc_ = Crc32c(0, prefix, sizeof(prefix));
  reader.crc_ = Crc32c(reader.crc_, reader.header_bytes_.data(), header_length);
  reader.payload_bytes_ = frame_length - sizeof(uint32_t) - header_length;
  // A header that does not parse is reported as such unless the checksum says the file is
  // corrupt; Finish() decides which, so parse failures wait for it.
  if (!reader.state_.ParseFromString(reader.header_bytes_)) {
    std::string rest(reader.payload_bytes_, '\0');
    if (reader.ReadPayload(absl::MakeSpan(rest)).ok()) {
      if (absl::StatusOr<ShardFileInfo> finished = reader.Finish(); !finished.ok()) {
        return finished.status();
      }
    }
    return absl::DataLossError(absl::StrCat(path, ": the shard state does not parse"));
  }
  return reader;
}

ShardFileReader::ShardFileReader(ShardFileReader&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      file_size_(other.file_size_),
      state_(std::move(other.state_)),
      header_bytes_(std::move(other.header_bytes_)),
      payload_bytes_(other.payload_bytes_),
      payload_read_(other.payload_read_),
      crc_(other.crc_) {}

ShardFileReader& ShardFileReader::operator=(ShardFileReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    file_size_ = other.file_size_;
    state_ = std::move(other.state_);
    header_bytes_ = std::move(other.header_bytes_);
    payload_bytes_ = other.payload_bytes_;
    payload_read_ = other.payload_read_;
    crc_ = other.crc_;
  }
  return *this;
}

ShardFileReader::~ShardFileReader() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ShardFileReader::ReadPayload(absl::Span<char> out) {
  if (out.size() > payload_bytes_ - payload_read_) {
    return absl::DataLossError(absl::StrCat(path_, ": the payload holds ",
                                            payload_bytes_ - payload_read_,
                                            " more bytes; ", out.size(), " were wanted"));
  }
  absl::StatusOr<size_t> got = ReadFully(fd_, out.data(), out.size(), path_);
  if (!got.ok()) return got.status();
  if (*got != out.size()) return absl::DataLossError(absl::StrCat(path_, ": truncated"));
  crc_ = Crc32c(crc_, out.data(), out.size());
  payload_read_ += out.size();
  return absl::OkStatus();
}

absl::StatusOr<ShardFileInfo> ShardFileReader::Finish() {
  if (payload_read_ != payload_bytes_) {
    return absl::FailedPreconditionError(absl::StrCat(
        path_, ": ", payload_bytes_ - payload_read_, " payload bytes were not read"));
  }
  uint32_t stored = 0;
  absl::StatusOr<size_t> got =
      ReadFully(fd_, reinterpret_cast<char*>(&stored), kTrailerBytes, path_);
  if (!got.ok()) return got.status();
  if (*got != kTrailerBytes) return absl::DataLossError(absl::StrCat(path_, ": truncated"));
  if (crc_ != stored) {
    return absl::DataLossError(absl::StrCat(path_, ": checksum mismatch (CRC-32C ", crc_,
                                            ", the file says ", stored, "): corrupt"));
  }
  return ShardFileInfo{file_size_, crc_};
}

absl::StatusOr<ShardFileInfo> VerifyShardFile(const std::string& path, v1::ShardState* state) {
  absl::StatusOr<ShardFileReader> reader = ShardFileReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<char> buffer(std::min<uint64_t>(reader->payload_bytes(), uint64_t{1} << 20));
  for (uint64_t left = reader->payload_bytes(); left > 0;) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    if (absl::Status read = reader->ReadPayload(absl::MakeSpan(buffer.data(), chunk));
        !read.ok()) {
      return read;
    }
    left -= chunk;
  }
  absl::StatusOr<ShardFileInfo> info = reader->Finish();
  if (info.ok()) *state = reader->state();
  return info;
}

absl::StatusOr<ShardFile> ReadShardFile(const std::string& path) {
  absl::StatusOr<ShardFileReader> reader = ShardFileReader::Open(path);
  if (!reader.ok()) return reader.status();
  // The frame as a snapshot carries it: header length, header, payload, in one slice.
  const std::string& header = reader->header_bytes();
  const uint32_t header_length = static_cast<uint32_t>(header.size());
  grpc::Slice frame(sizeof(header_length) + header.size() + reader->payload_bytes());
  char* bytes = reinterpret_cast<char*>(const_cast<uint8_t*>(frame.begin()));
  std::memcpy(bytes, &header_length, sizeof(header_length));
  std::memcpy(bytes + sizeof(header_length), header.data(), header.size());
  absl::Status read = reader->ReadPayload(
      absl::MakeSpan(bytes + sizeof(header_length) + header.size(), reader->payload_bytes()));
  if (!read.ok()) return read;
  absl::StatusOr<ShardFileInfo> info = reader->Finish();
  if (!info.ok()) return info.status();
  ShardFile file;
  file.state = reader->state();
  file.frame = grpc::ByteBuffer(&frame, 1);
  file.info = *info;
  return file;
}

}  // namespace ps
