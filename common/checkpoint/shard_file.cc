#include "common/checkpoint/shard_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  ~FileCloser() { close(fd_); }

 private:
  int fd_;
};

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

absl::StatusOr<ShardFile> ReadShardFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus("cannot open", path, errno);
  FileCloser closer(fd);
  struct stat info;
  if (fstat(fd, &info) != 0) return ErrnoToStatus("cannot stat", path, errno);
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);

  char prefix[kPrefixBytes];
  absl::StatusOr<size_t> got = ReadFully(fd, prefix, kPrefixBytes, path);
  if (!got.ok()) return got.status();
  if (*got < kPrefixBytes || std::memcmp(prefix, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a shard checkpoint file (no PSSHARD1 header)"));
  }
  uint64_t frame_length = 0;
  std::memcpy(&frame_length, prefix + sizeof(kMagic), 8);
  const uint64_t expected = kPrefixBytes + frame_length + kTrailerBytes;
  if (frame_length < sizeof(uint32_t) || frame_length > file_size || expected != file_size) {
    return absl::DataLossError(absl::StrCat(path, ": truncated or overlong: the header says ",
                                            expected, " bytes, the file has ", file_size));
  }
  grpc::Slice frame(static_cast<size_t>(frame_length));
  char* frame_bytes = reinterpret_cast<char*>(const_cast<uint8_t*>(frame.begin()));
  got = ReadFully(fd, frame_bytes, frame_length, path);
  if (!got.ok()) return got.status();
  uint32_t stored_crc = 0;
  absl::StatusOr<size_t> got_trailer =
      ReadFully(fd, reinterpret_cast<char*>(&stored_crc), kTrailerBytes, path);
  if (!got_trailer.ok()) return got_trailer.status();
  if (*got != frame_length || *got_trailer != kTrailerBytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated while reading"));
  }
  uint32_t crc = Crc32c(0, prefix, kPrefixBytes);
  crc = Crc32c(crc, frame_bytes, frame_length);
  if (crc != stored_crc) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch (CRC-32C ", crc,
                                            ", the file says ", stored_crc, "): corrupt"));
  }
  ShardFile file;
  file.frame = grpc::ByteBuffer(&frame, 1);
  file.info = ShardFileInfo{file_size, crc};
  absl::StatusOr<FrameReader> reader = FrameReader::Open(file.frame, &file.state);
  if (!reader.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": the shard state does not parse: ", reader.status().message()));
  }
  return file;
}

}  // namespace ps
