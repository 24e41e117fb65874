// Fuzz target: a pair of IDX files (worker/data/idx_reader.h, ReadIdxDataset), plain or gzip.
// Input: a 4-byte little-endian length N, N bytes of the image file, then the label file.
// Properties checked beyond "no crash", for every pair the reader accepts: num_examples images
// of feature_dim pixels (features.size() == num_examples * feature_dim), each scaled into
// [0, 1]; one label per image, each below num_classes (10).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/scratch_file.h"
#include "worker/data/idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t images_size = 0;
  for (int i = 0; i < 4; ++i) images_size |= uint32_t{data[i]} << (8 * i);
  const absl::string_view rest(reinterpret_cast<const char*>(data + 4), size - 4);
  if (images_size > rest.size()) return 0;
  const std::string& dir = ps::fuzz::ScratchDirectory("idx_fuzzer");
  const std::string images = dir + "/images";
  const std::string labels = dir + "/labels";
  ps::fuzz::WriteScratchFile(images, rest.substr(0, images_size));
  ps::fuzz::WriteScratchFile(labels, rest.substr(images_size));
  absl::StatusOr<ps::DenseDataset> read = ps::ReadIdxDataset(images, labels);
  if (!read.ok()) return 0;
  const ps::DenseDataset& set = *read;
  if (set.num_examples <= 0 || set.feature_dim <= 0 || set.num_classes != 10) std::abort();
  if (set.features.size() != static_cast<uint64_t>(set.num_examples) * set.feature_dim ||
      set.labels.size() != static_cast<size_t>(set.num_examples)) {
    std::abort();
  }
  for (float feature : set.features) {
    if (!(feature >= 0.0f && feature <= 1.0f)) std::abort();
  }
  for (int label : set.labels) {
    if (label < 0 || label >= set.num_classes) std::abort();
  }
  return 0;
}
