// A checkpoint's shard file: one table's part of one virtual shard, as the primary held it at the
// checkpoint's cut. Written by the server that leads the shard, read back by servers restoring
// the cluster and by `ps_worker --mode=evaluate` reading a model straight from a checkpoint.
//
// Format, version 1 (integers little-endian):
//   8 bytes   magic "PSSHARD1"
//   uint64    F, the length of the frame that follows
//   F bytes   the ShardState frame exactly as a learner's snapshot carries it
//             (proto/parameter_server.proto, ShardState): uint32 header length, the serialised
//             ShardState, then its payload arrays (values, optimizer slots, BSP accumulators)
//   uint32    CRC-32C (common/crc32c.h) of every byte before it
// Written atomically (AtomicFileWriter: temporary file, fsync, rename, fsync of the directory),
// so a file under its final name is always whole; the checksum catches what goes wrong after.
//
// Stateless functions; thread-safe.
#ifndef PS_COMMON_CHECKPOINT_SHARD_FILE_H_
#define PS_COMMON_CHECKPOINT_SHARD_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "proto/parameter_server.pb.h"

namespace ps {

struct ShardFileInfo {
  uint64_t size_bytes = 0;
  // The trailer.
  uint32_t crc32c = 0;
};

// Writes `state` with its `payload` arrays to `path`. Errors: what the filesystem reports
// (common/file_util.h: ResourceExhausted for a full disk, PermissionDenied, NotFound for a
// missing directory), naming the file; `path` is then untouched.
absl::StatusOr<ShardFileInfo> WriteShardFile(const std::string& path, const v1::ShardState& state,
                                             const std::vector<grpc::Slice>& payload);

struct ShardFile {
  v1::ShardState state;
  // The whole ShardState frame (FrameReader::Open reads it; ReplicaSet::Install takes it).
  grpc::ByteBuffer frame;
  ShardFileInfo info;
};

// Reads and verifies a shard file. Errors: NotFound, PermissionDenied as for writing; DataLoss
// naming the file and the problem: a wrong magic, a file shorter or longer than its frame
// length says (truncated), a checksum mismatch (corrupt), a header that does not parse.
absl::StatusOr<ShardFile> ReadShardFile(const std::string& path);

// Reads a whole shard file through a small buffer and verifies it (as ReadShardFile, without
// keeping the payload); `state` receives its header. Errors: as ReadShardFile's.
absl::StatusOr<ShardFileInfo> VerifyShardFile(const std::string& path, v1::ShardState* state);

// Reads a shard file in order without holding it whole: the header at Open(), then the payload
// straight into the caller's memory (a store's arrays: no staging copy of the state, whose first
// touch of fresh memory is what a large restore spends its time on), then the checksum at
// Finish(). Until Finish() succeeds, what was read is unverified: the caller discards it on any
// error. Movable; one thread at a time.
class ShardFileReader {
 public:
  // Reads and checks the prefix and the ShardState header. Errors: as ReadShardFile's.
  static absl::StatusOr<ShardFileReader> Open(const std::string& path);

  ShardFileReader(ShardFileReader&& other) noexcept;
  ShardFileReader& operator=(ShardFileReader&& other) noexcept;
  ShardFileReader(const ShardFileReader&) = delete;
  ShardFileReader& operator=(const ShardFileReader&) = delete;
  ~ShardFileReader();

  const v1::ShardState& state() const { return state_; }
  // The serialised header as in the file (the frame's header).
  const std::string& header_bytes() const { return header_bytes_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  uint64_t file_size() const { return file_size_; }

  // Reads the next out.size() payload bytes into `out`. Errors: DataLoss past the payload's end
  // or on a short read; what read() reports.
  absl::Status ReadPayload(absl::Span<char> out);
  // Checks that the whole payload was read and the checksum matches; returns the file's size and
  // checksum. Errors: FailedPrecondition with payload left unread; DataLoss on a mismatch.
  absl::StatusOr<ShardFileInfo> Finish();

 private:
  ShardFileReader() = default;

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  v1::ShardState state_;
  std::string header_bytes_;
  uint64_t payload_bytes_ = 0;
  uint64_t payload_read_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace ps

#endif  // PS_COMMON_CHECKPOINT_SHARD_FILE_H_
