// Fuzz target: a checkpoint shard file (common/checkpoint/shard_file.h), read as-is and once more
// with its trailing CRC-32C recomputed, so that inputs get past the checksum to the header behind
// it. Each is read the three ways the code base reads shard files: ReadShardFile (whole, for
// evaluation), VerifyShardFile (streamed through a small buffer, for restore verification) and
// ShardFileReader chunk by chunk (a restoring server's in-place read). Properties checked beyond
// "no crash":
//   - the three ways accept the same files and agree on the header, size and checksum;
//   - an accepted file's size and checksum are the input's; its frame opens with the same
//     header, followed by exactly the payload;
//   - written back (WriteShardFile), the state and payload read back equal.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint/shard_file.h"
#include "common/crc32c.h"
#include "common/frame.h"
#include "proto/parameter_server.pb.h"
#include "tests/fuzz/scratch_file.h"

namespace {

// The payload read through ShardFileReader in 5-byte pieces, or the error.
absl::StatusOr<std::string> Streamed(const std::string& path, ps::v1::ShardState* state,
                                     ps::ShardFileInfo* info) {
  absl::StatusOr<ps::ShardFileReader> reader = ps::ShardFileReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::string payload(reader->payload_bytes(), '\0');
  for (size_t done = 0; done < payload.size();) {
    const size_t n = std::min<size_t>(5, payload.size() - done);
    if (absl::Status read = reader->ReadPayload(absl::MakeSpan(&payload[done], n)); !read.ok()) {
      return read;
    }
    done += n;
  }
  absl::StatusOr<ps::ShardFileInfo> finished = reader->Finish();
  if (!finished.ok()) return finished.status();
  *state = reader->state();
  *info = *finished;
  return payload;
}

void Check(const std::string& bytes) {
  const std::string& dir = ps::fuzz::ScratchDirectory("shard_file_fuzzer");
  const std::string path = dir + "/shard.pss";
  ps::fuzz::WriteScratchFile(path, bytes);
  absl::StatusOr<ps::ShardFile> whole = ps::ReadShardFile(path);
  ps::v1::ShardState verified_state;
  absl::StatusOr<ps::ShardFileInfo> verified = ps::VerifyShardFile(path, &verified_state);
  ps::v1::ShardState streamed_state;
  ps::ShardFileInfo streamed_info;
  absl::StatusOr<std::string> streamed = Streamed(path, &streamed_state, &streamed_info);
  if (whole.ok() != verified.ok() || whole.ok() != streamed.ok()) std::abort();
  if (!whole.ok()) return;

  const std::string header = whole->state.SerializeAsString();
  if (verified_state.SerializeAsString() != header ||
      streamed_state.SerializeAsString() != header) {
    std::abort();
  }
  uint32_t trailer = 0;
  std::memcpy(&trailer, bytes.data() + bytes.size() - 4, 4);
  for (const ps::ShardFileInfo& info : {whole->info, *verified, streamed_info}) {
    if (info.size_bytes != bytes.size() || info.crc32c != trailer ||
        ps::Crc32c(0, bytes.data(), bytes.size() - 4) != trailer) {
      std::abort();
    }
  }
  ps::v1::ShardState reopened;
  absl::StatusOr<ps::FrameReader> frame = ps::FrameReader::Open(whole->frame, &reopened);
  if (!frame.ok() || reopened.SerializeAsString() != header ||
      frame->remaining() != streamed->size()) {
    std::abort();
  }
  std::string payload(frame->remaining(), '\0');
  if (!frame->Read(payload.data(), payload.size()).ok() || payload != *streamed) std::abort();

  const std::string copy = dir + "/copy.pss";
  grpc::Slice slice(payload.data(), payload.size());
  if (!ps::WriteShardFile(copy, whole->state, {slice}).ok()) std::abort();
  absl::StatusOr<ps::ShardFile> again = ps::ReadShardFile(copy);
  if (!again.ok() || again->state.SerializeAsString() != header) std::abort();
  ps::v1::ShardState ignored;
  absl::StatusOr<ps::FrameReader> again_frame = ps::FrameReader::Open(again->frame, &ignored);
  if (!again_frame.ok() || again_frame->remaining() != payload.size()) std::abort();
  std::string again_payload(payload.size(), '\0');
  again_frame->Read(again_payload.data(), again_payload.size()).IgnoreError();
  if (again_payload != payload) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  if (size >= 4) {
    const uint32_t crc = ps::Crc32c(0, bytes.data(), size - 4);
    std::memcpy(&bytes[size - 4], &crc, 4);
    Check(bytes);
  }
  return 0;
}
