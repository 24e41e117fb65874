// Fuzz target: a checkpoint directory (common/checkpoint/checkpoint_store.h) holding a MANIFEST and
// one shard file, table-1-shard-0.pss, read the ways the code base reads checkpoints: the
// manifest (ReadManifest), the whole checkpoint verified (VerifyCheckpoint), chosen as a restore
// point (FindRestorePoint) and a dense table read out of it for evaluation
// (ReadDenseTableFromCheckpoint). Input: a flags byte (bit 0: recompute the manifest's CRC-32C
// trailer, bit 1: the shard file's, so that inputs get past the checksums), a 4-byte
// little-endian length M, M bytes of MANIFEST, then the shard file. Properties checked beyond "no
// crash":
//   - an accepted manifest survives a write and read back unchanged;
//   - a verified checkpoint lists exactly one file per table and shard;
//   - a restore point is found exactly when the manifest reads, names this checkpoint and
//     verifies;
//   - a dense table read from it has dense_size values and is the table the manifest names.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/crc32c.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "proto/checkpoint.pb.h"
#include "tests/fuzz/scratch_file.h"
#include "worker/model/checkpoint_model.h"

namespace {

std::string WithCrc(absl::string_view bytes, bool fix) {
  std::string out(bytes);
  if (fix && out.size() >= 4) {
    const uint32_t crc = ps::Crc32c(0, out.data(), out.size() - 4);
    std::memcpy(&out[out.size() - 4], &crc, 4);
  }
  return out;
}

// Compared as bytes, not with MessageDifferencer (a NaN float is unequal to itself), serialized
// deterministically (a map field's entries, bsp_cut_clocks, otherwise come in no fixed order).
std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t flags = data[0];
  uint32_t manifest_size = 0;
  for (int i = 0; i < 4; ++i) manifest_size |= uint32_t{data[1 + i]} << (8 * i);
  const absl::string_view rest(reinterpret_cast<const char*>(data + 5), size - 5);
  if (manifest_size > rest.size()) return 0;

  const std::string& root = ps::fuzz::ScratchDirectory("checkpoint_fuzzer");
  const std::string dir = ps::CheckpointDirectory(root, 1);
  std::filesystem::create_directories(dir);
  ps::fuzz::WriteScratchFile(dir + "/" + ps::kManifestName,
                             WithCrc(rest.substr(0, manifest_size), flags & 1));
  ps::fuzz::WriteScratchFile(dir + "/" + ps::ShardFileName(1, 0),
                             WithCrc(rest.substr(manifest_size), flags & 2));

  absl::StatusOr<ps::v1::CheckpointManifest> manifest = ps::ReadManifest(dir);
  absl::Status verified = absl::UnknownError("no manifest");
  if (manifest.ok()) {
    const std::string copy = root + "/copy";
    std::filesystem::create_directories(copy);
    if (!ps::WriteManifest(copy, *manifest).ok()) std::abort();
    absl::StatusOr<ps::v1::CheckpointManifest> reread = ps::ReadManifest(copy);
    if (!reread.ok() || DeterministicBytes(*reread) != DeterministicBytes(*manifest)) {
      std::abort();
    }
    verified = ps::VerifyCheckpoint(dir, *manifest);
    if (verified.ok() && static_cast<uint64_t>(manifest->shards_size()) !=
                             uint64_t{manifest->num_shards()} * manifest->tables_size()) {
      std::abort();
    }
  }
  std::vector<std::string> skipped;
  absl::StatusOr<ps::RestorePoint> point = ps::FindRestorePoint(root, std::nullopt, &skipped);
  const bool restorable = manifest.ok() && manifest->checkpoint_id() == 1 && verified.ok();
  if (point.ok() != restorable) std::abort();
  if (point.ok() && (point->checkpoint_id != 1 || point->directory != dir)) std::abort();

  if (!manifest.ok()) return 0;
  for (int i = 0; i < manifest->tables_size() && i < 2; ++i) {
    const ps::v1::TableInfo& named = manifest->tables(i);
    absl::StatusOr<ps::CheckpointedDenseTable> table =
        ps::ReadDenseTableFromCheckpoint(dir, named.spec().name());
    if (!table.ok()) continue;
    if (table->checkpoint_id != manifest->checkpoint_id() ||
        table->table.spec().name() != named.spec().name() ||
        table->table.spec().kind() != ps::v1::TABLE_KIND_DENSE ||
        table->values.size() != table->table.spec().dense_size()) {
      std::abort();
    }
  }
  return 0;
}
