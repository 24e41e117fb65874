// Writes the seed corpora of the fuzz targets whose inputs are frames or files this code base
// writes itself (push_request, pull_request, pull_response, replicate, snapshot, shard_file,
// checkpoint, model_file, idx): valid inputs made with the real encoders against the fixture's
// cluster (replica_fixture.h), and a few near misses. The files are committed; rerun after a
// format change:
//   bazel run //tests/fuzz:make_frame_seeds -- "$PWD/tests/fuzz/corpus"
// (make_seeds.py writes the encoded_tensor and libsvm corpora.)
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/crc32c.h"
#include "common/frame.h"
#include "common/message_file.h"
#include "common/partition.h"
#include "proto/checkpoint.pb.h"
#include "proto/parameter_server.pb.h"
#include "tests/fuzz/replica_fixture.h"
#include "worker/model/model_file.h"

namespace ps::fuzz {
namespace {

std::string g_root;

void Put(const std::string& corpus, const std::string& name, absl::string_view bytes) {
  const std::string dir = g_root + "/" + corpus;
  std::filesystem::create_directories(dir);
  std::FILE* file = std::fopen((dir + "/" + name).c_str(), "wb");
  if (file == nullptr ||
      (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size())) {
    std::perror(name.c_str());
    std::exit(1);
  }
  std::fclose(file);
}

std::string Frame(const google::protobuf::MessageLite& header, absl::string_view payload) {
  grpc::Slice slice(payload.data(), payload.size());
  return Flatten(MakeFrame(header, {slice}));
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// The first `n` keys (from 1 up) of sparse shard `shard`.
std::vector<uint64_t> KeysOf(uint32_t shard, size_t n) {
  std::vector<uint64_t> keys;
  for (uint64_t key = 1; keys.size() < n; ++key) {
    if (SparseShardOf(key, kNumShards) == shard) keys.push_back(key);
  }
  return keys;
}

uint64_t DenseSizeOf(uint32_t shard) { return DenseShardRange(kDenseSize, kNumShards, shard).size(); }

v1::ShardSlice* AddSlice(google::protobuf::RepeatedPtrField<v1::ShardSlice>* slices,
                         uint32_t table, uint32_t shard, uint64_t num_keys) {
  v1::ShardSlice* slice = slices->Add();
  slice->set_table_id(table);
  slice->set_shard_id(shard);
  slice->set_num_keys(num_keys);
  return slice;
}

void SetF32(v1::TensorHeader* values, uint64_t n) {
  values->set_encoding(v1::ENCODING_F32);
  values->set_num_elements(n);
  values->set_payload_bytes(n * sizeof(float));
}

v1::PushRequest PushHeader(uint64_t seq, uint64_t clock) {
  v1::PushRequest header;
  header.set_epoch(kEpoch);
  header.set_catalog_version(1);
  header.set_membership_version(1);
  header.set_worker_id(kWorker);
  header.set_incarnation(kIncarnation);
  header.set_seq(seq);
  header.set_clock(clock);
  return header;
}

struct Push {
  v1::PushRequest header;
  std::string payload;
};

// Dense shard 0 (F32) and sparse shard 1 (two keys, F32).
Push DenseAndSparsePush() {
  Push push{PushHeader(1, 0), ""};
  SetF32(AddSlice(push.header.mutable_slices(), kDenseTable, 0, 0)->mutable_values(),
         DenseSizeOf(0));
  std::vector<float> dense(DenseSizeOf(0));
  for (size_t i = 0; i < dense.size(); ++i) dense[i] = 0.5f * static_cast<float>(i) - 1.0f;
  push.payload += Bytes(dense);
  const std::vector<uint64_t> keys = KeysOf(1, 2);
  SetF32(AddSlice(push.header.mutable_slices(), kSparseTable, 1, keys.size())->mutable_values(),
         keys.size() * kSparseDim);
  push.payload += Bytes(keys) + Bytes(std::vector<float>{1.0f, -2.0f, 0.25f, 3.5f});
  return push;
}

// Writes push_request seeds; returns the replication frames the primary sent for the valid push.
std::vector<std::string> PushSeeds() {
  const Push both = DenseAndSparsePush();
  Put("push_request", "dense_and_sparse", Frame(both.header, both.payload));

  Push f16{PushHeader(2, 0), ""};
  v1::TensorHeader* values =
      AddSlice(f16.header.mutable_slices(), kDenseTable, 1, 0)->mutable_values();
  values->set_encoding(v1::ENCODING_F16);
  values->set_num_elements(DenseSizeOf(1));
  values->set_payload_bytes(DenseSizeOf(1) * 2);
  f16.payload.assign(DenseSizeOf(1) * 2, '\x3c');  // 0x3c3c: about 1.06.
  Put("push_request", "dense_f16", Frame(f16.header, f16.payload));

  Push topk{PushHeader(3, 0), ""};
  values = AddSlice(topk.header.mutable_slices(), kDenseTable, 0, 0)->mutable_values();
  values->set_encoding(v1::ENCODING_TOPK);
  values->set_num_elements(DenseSizeOf(0));
  values->set_payload_bytes(16);
  topk.payload = Bytes(std::vector<uint32_t>{1, 3}) + Bytes(std::vector<float>{2.0f, -1.0f});
  Put("push_request", "dense_topk", Frame(topk.header, topk.payload));

  Push empty{PushHeader(4, 0), ""};
  SetF32(AddSlice(empty.header.mutable_slices(), kSparseTable, 0, 0)->mutable_values(), 0);
  Put("push_request", "empty_sparse_slice", Frame(empty.header, ""));

  Push repeated = both;
  repeated.header.mutable_slices(1)->set_num_keys(2);
  const std::vector<uint64_t> key = KeysOf(1, 1);
  repeated.payload = repeated.payload.substr(0, DenseSizeOf(0) * 4) + Bytes(std::vector<uint64_t>{key[0], key[0]}) +
                     Bytes(std::vector<float>{1, 2, 3, 4});
  Put("push_request", "repeated_key", Frame(repeated.header, repeated.payload));

  Push wrong_shard = both;
  wrong_shard.header.mutable_slices(1)->set_shard_id(0);
  Put("push_request", "key_of_other_shard", Frame(wrong_shard.header, wrong_shard.payload));

  Push trailing = both;
  trailing.payload += "xyz";
  Put("push_request", "trailing_bytes", Frame(trailing.header, trailing.payload));

  Push stale = both;
  stale.header.set_incarnation(kIncarnation - 1);
  Put("push_request", "dead_incarnation", Frame(stale.header, stale.payload));

  // The replication the valid push causes: what a backup receives.
  std::vector<std::string> replicated;
  std::unique_ptr<ReplicaSet> primary = MakeReplicaSet(kPrimary);
  v1::PushRequest header;
  grpc::Slice slice(both.payload.data(), both.payload.size());
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(both.header, {slice}), &header);
  RoutedError routed;
  absl::StatusOr<ReplicaSet::PushOutcome> outcome = primary->ApplyPush(
      header, *reader,
      [&](std::vector<ReplicationRequest> requests, const ReplicaSet::PushOutcome&) {
        for (const ReplicationRequest& request : requests) {
          replicated.push_back(Flatten(MakeFrame(request.header, request.payload)));
        }
      },
      &routed);
  if (!outcome.ok() || replicated.empty()) {
    std::fprintf(stderr, "the seed push was refused: %s\n", outcome.status().ToString().c_str());
    std::exit(1);
  }
  return replicated;
}

void PullSeeds() {
  v1::PullRequest header;
  header.set_epoch(kEpoch);
  header.set_catalog_version(1);
  header.set_membership_version(1);
  header.set_worker_id(kWorker);
  AddSlice(header.mutable_slices(), kDenseTable, 0, 0);
  AddSlice(header.mutable_slices(), kDenseTable, 1, 0);
  Put("pull_request", "dense", Frame(header, ""));

  v1::PullRequest sparse = header;
  sparse.clear_slices();
  const std::vector<uint64_t> keys = KeysOf(0, 3);
  AddSlice(sparse.mutable_slices(), kSparseTable, 0, 4);
  const std::string key_bytes = Bytes(std::vector<uint64_t>{keys[0], keys[1], keys[2], keys[0]});
  sparse.set_value_encoding(v1::ENCODING_F16);
  Put("pull_request", "sparse_f16_repeated_key", Frame(sparse, key_bytes));
  sparse.set_value_encoding(v1::ENCODING_INT8_BLOCK);
  Put("pull_request", "int8_refused", Frame(sparse, key_bytes));
  sparse.set_value_encoding(v1::ENCODING_F32);
  Put("pull_request", "short_keys", Frame(sparse, key_bytes.substr(0, 20)));

  // PushPull: 'P', then the frame: the pull's keys, then the push's payload.
  v1::PushPullRequest fused;
  const Push push = DenseAndSparsePush();
  *fused.mutable_push() = push.header;
  v1::PullRequest* pull = fused.mutable_pull();
  *pull = header;
  AddSlice(pull->mutable_slices(), kSparseTable, 0, 2);
  Put("pull_request", "push_pull",
      "P" + Frame(fused, key_bytes.substr(0, 16) + push.payload));
  Put("pull_request", "push_pull_too_many_keys",
      "P" + Frame(fused, key_bytes.substr(0, 12)));
}

void PullResponseSeeds() {
  // The fixed request of pull_response_fuzzer: dense shard 0 (5 values), sparse shard 1 (3 rows
  // of 2).
  for (const bool f16 : {false, true}) {
    v1::PullResponse header;
    std::string payload;
    const size_t width = f16 ? 2 : 4;
    for (const auto& [shard, n, keys] : {std::tuple<uint32_t, uint64_t, uint64_t>{0, 5, 0},
                                         std::tuple<uint32_t, uint64_t, uint64_t>{1, 6, 3}}) {
      v1::ShardSlice* slice = AddSlice(header.mutable_slices(), shard == 0 ? kDenseTable : kSparseTable,
                                       shard, keys);
      slice->mutable_values()->set_encoding(f16 ? v1::ENCODING_F16 : v1::ENCODING_F32);
      slice->mutable_values()->set_num_elements(n);
      slice->mutable_values()->set_payload_bytes(n * width);
      if (f16) {
        payload.append(n * 2, '\x3c');
      } else {
        std::vector<float> values(n);
        for (size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i) + 0.5f;
        payload += Bytes(values);
      }
      header.add_shard_clocks(shard + 2);
    }
    const std::string kind(1, f16 ? '\x01' : '\x00');
    Put("pull_response", f16 ? "pull_f16" : "pull_f32", kind + Frame(header, payload));
    v1::PushPullResponse fused;
    *fused.mutable_pull() = header;
    fused.mutable_push()->set_server_micros(12);
    Put("pull_response", f16 ? "push_pull_f16" : "push_pull_f32",
        std::string(1, static_cast<char>(kind[0] | 2)) + Frame(fused, payload));
    if (!f16) {
      Put("pull_response", "short_payload", kind + Frame(header, payload.substr(0, 30)));
    }
  }
}

void ReplicateSeeds(const std::vector<std::string>& replicated) {
  for (size_t i = 0; i < replicated.size(); ++i) {
    Put("replicate", "push_entries_" + std::to_string(i), replicated[i]);
  }
  // A barrier, a BSP clock completion, and an entry that arrives early.
  v1::ReplicateRequest header;
  header.set_epoch(kEpoch);
  header.set_primary_id(kPrimary);
  header.set_catalog_version(1);
  v1::LogEntry* barrier = header.add_entries();
  barrier->set_table_id(kDenseTable);
  barrier->set_shard_id(0);
  barrier->set_barrier(true);
  barrier->set_term_epoch(kEpoch);
  Put("replicate", "barrier", Frame(header, ""));
  header.clear_entries();
  v1::LogEntry* completion = header.add_entries();
  completion->set_table_id(kSparseTable);
  completion->set_shard_id(1);
  completion->set_log_index(1);
  completion->set_term_epoch(kEpoch);
  completion->add_completions()->set_clock(0);
  completion->mutable_completions(0)->set_contributors(1);
  Put("replicate", "clock_completion", Frame(header, ""));
  completion->set_log_index(3);
  Put("replicate", "early_entry", Frame(header, ""));
  header.set_primary_id(kBackup);
  Put("replicate", "not_the_primary", Frame(header, ""));
}

// Snapshot frames after the valid push: each (table, shard) of the primary.
std::vector<std::pair<std::string, std::string>> SnapshotSeeds(const std::vector<std::string>& replicated) {
  std::unique_ptr<ReplicaSet> backup = MakeReplicaSet(kBackup);
  for (const std::string& frame : replicated) {
    grpc::Slice slice(frame.data(), frame.size());
    if (!DeliverFrame(grpc::ByteBuffer(&slice, 1), *backup).ok()) std::exit(1);
  }
  std::vector<std::pair<std::string, std::string>> states;
  for (uint32_t table : {kDenseTable, kSparseTable}) {
    for (uint32_t shard = 0; shard < kNumShards; ++shard) {
      absl::StatusOr<std::string> state = SnapshotBytes(*backup, table, shard);
      if (!state.ok()) std::exit(1);
      const std::string name = (table == kDenseTable ? "dense_" : "sparse_") + std::to_string(shard);
      Put("snapshot", name, *state);
      states.push_back({name, *state});
    }
  }
  Put("snapshot", "dense_0_truncated", states[0].second.substr(0, states[0].second.size() - 3));
  Put("snapshot", "dense_0_trailing", states[0].second + "abc");
  return states;
}

void ShardFileSeeds(const std::vector<std::pair<std::string, std::string>>& states,
                    const std::string& scratch) {
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string& frame = states[i].second;
    v1::ShardState state;
    grpc::Slice slice(frame.data(), frame.size());
    absl::StatusOr<FrameReader> reader = FrameReader::Open(grpc::ByteBuffer(&slice, 1), &state);
    std::vector<grpc::Slice> payload;
    reader->ReadSlices(reader->remaining(), &payload).IgnoreError();
    const std::string path = scratch + "/" + ShardFileName(state.table_id(), state.shard_id());
    absl::StatusOr<ShardFileInfo> info = WriteShardFile(path, state, payload);
    if (!info.ok()) std::exit(1);
    std::string bytes;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) bytes.append(buffer, n);
    std::fclose(file);
    Put("shard_file", states[i].first, bytes);
    if (i == 0) {
      std::string corrupt = bytes;
      corrupt[corrupt.size() / 2] ^= 1;
      Put("shard_file", "dense_0_bit_flip", corrupt);
      Put("shard_file", "dense_0_truncated", bytes.substr(0, bytes.size() - 5));

      // The checkpoint of the dense table's shard 0 alone: one shard, this file.
      v1::CheckpointManifest manifest;
      manifest.set_checkpoint_id(1);
      manifest.set_num_shards(1);
      v1::TableInfo* table = manifest.add_tables();
      *table = FuzzMap().tables(0);
      table->mutable_spec()->set_dense_size(DenseSizeOf(0));
      manifest.set_catalog_version(1);
      manifest.set_epoch(kEpoch);
      v1::ShardCheckpoint* shard = manifest.add_shards();
      shard->set_table_id(kDenseTable);
      shard->set_shard_id(0);
      shard->set_path(ShardFileName(kDenseTable, 0));
      shard->set_size_bytes(info->size_bytes);
      shard->set_crc32c(info->crc32c);
      const std::string encoded = EncodeMessageFile("PSMANIF1", manifest);
      auto input = [&](uint8_t flags, const std::string& manifest_bytes, const std::string& file) {
        std::string out(1, static_cast<char>(flags));
        const uint32_t m = manifest_bytes.size();
        out.append(reinterpret_cast<const char*>(&m), 4);
        return out + manifest_bytes + file;
      };
      Put("checkpoint", "dense_one_shard", input(0, encoded, bytes));
      Put("checkpoint", "fix_both_checksums", input(3, encoded.substr(0, encoded.size() - 4) + "????",
                                                   bytes.substr(0, bytes.size() - 4) + "????"));
      v1::CheckpointManifest two_shards = manifest;
      two_shards.set_num_shards(2);
      Put("checkpoint", "shard_missing", input(0, EncodeMessageFile("PSMANIF1", two_shards), bytes));
      v1::CheckpointManifest sparse = manifest;
      sparse.mutable_tables(0)->mutable_spec()->set_kind(v1::TABLE_KIND_SPARSE);
      Put("checkpoint", "sparse_table", input(0, EncodeMessageFile("PSMANIF1", sparse), bytes));
      Put("checkpoint", "no_manifest", input(0, "", bytes));
    }
  }
}

void ModelSeeds(const std::string& scratch) {
  const auto write = [&](const std::string& name, const MlpModel& model) {
    const std::string path = scratch + "/" + name;
    if (!WriteMlpModel(path, model).ok()) std::exit(1);
    std::FILE* file = std::fopen(path.c_str(), "rb");
    std::string bytes;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) bytes.append(buffer, n);
    std::fclose(file);
    return bytes;
  };
  MlpModel small{{3, 2}, std::vector<float>(3 * 2 + 2)};
  for (size_t i = 0; i < small.parameters.size(); ++i) small.parameters[i] = 0.1f * i - 0.3f;
  const std::string bytes = write("small", small);
  Put("model_file", "two_layers", bytes);
  MlpModel deep{{4, 3, 2, 2}, std::vector<float>(4 * 3 + 3 + 3 * 2 + 2 + 2 * 2 + 2, 0.5f)};
  Put("model_file", "four_layers", write("deep", deep));
  std::string nan = bytes;
  const float not_a_number = std::nanf("");
  std::memcpy(&nan[8 + 4 + 8 + 8], &not_a_number, 4);  // The first parameter.
  Put("model_file", "nan_parameter_stale_crc", nan);
  Put("model_file", "truncated", bytes.substr(0, bytes.size() - 6));
  std::string wrong_count = bytes;
  wrong_count[8 + 4 + 8] = 7;
  Put("model_file", "wrong_count", wrong_count);
}

std::string BigEndian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string Gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, bytes.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = bytes.size();
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = out.size();
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void IdxSeeds() {
  // 3 images of 2x2, labels 0, 9, 4.
  const std::string images = BigEndian(0x803) + BigEndian(3) + BigEndian(2) + BigEndian(2) +
                             std::string("\x00\x10\x80\xff" "\x01\x02\x03\x04" "\xff\xff\x00\x00", 12);
  const std::string labels = BigEndian(0x801) + BigEndian(3) + std::string("\x00\x09\x04", 3);
  const auto input = [](const std::string& a, const std::string& b) {
    const uint32_t n = a.size();
    return std::string(reinterpret_cast<const char*>(&n), 4) + a + b;
  };
  Put("idx", "plain", input(images, labels));
  Put("idx", "gzip", input(Gzip(images), Gzip(labels)));
  Put("idx", "label_ten", input(images, labels.substr(0, labels.size() - 1) + "\x0a"));
  Put("idx", "count_mismatch", input(images, BigEndian(0x801) + BigEndian(2) + "\x01\x02"));
  Put("idx", "truncated_pixels", input(images.substr(0, images.size() - 2), labels));
  Put("idx", "trailing_byte", input(images + "x", labels));
}

}  // namespace
}  // namespace ps::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_frame_seeds CORPUS_ROOT\n");
    return 2;
  }
  ps::fuzz::g_root = argv[1];
  const std::string scratch = std::filesystem::temp_directory_path() / "make_frame_seeds";
  std::filesystem::create_directories(scratch);
  const std::vector<std::string> replicated = ps::fuzz::PushSeeds();
  ps::fuzz::PullSeeds();
  ps::fuzz::PullResponseSeeds();
  ps::fuzz::ReplicateSeeds(replicated);
  const auto states = ps::fuzz::SnapshotSeeds(replicated);
  ps::fuzz::ShardFileSeeds(states, scratch);
  ps::fuzz::ModelSeeds(scratch);
  ps::fuzz::IdxSeeds();
  std::filesystem::remove_all(scratch);
  return 0;
}
