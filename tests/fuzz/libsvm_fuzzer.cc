// Fuzz target: a LIBSVM file (worker/data/libsvm_reader.h), read from a scratch file as ps_worker
// reads its --data. Properties checked beyond "no crash": an accepted file yields consistent
// offsets (one more than examples, ascending, ending at the number of features), labels 0 or 1,
// finite values and keys below key_space.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "worker/data/libsvm_reader.h"

namespace {

// One file per process, rewritten for every input.
const std::string& ScratchPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/libsvm_fuzzer." +
           std::to_string(getpid());
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::FILE* file = std::fopen(ScratchPath().c_str(), "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  absl::StatusOr<ps::SparseDataset> read = ps::ReadLibsvm(ScratchPath());
  if (!read.ok()) return 0;
  const ps::SparseDataset& set = *read;
  if (set.offsets.size() != set.labels.size() + 1 || set.offsets.front() != 0 ||
      set.offsets.back() != set.keys.size() || set.keys.size() != set.values.size()) {
    std::abort();
  }
  for (size_t i = 1; i < set.offsets.size(); ++i) {
    if (set.offsets[i] < set.offsets[i - 1]) std::abort();
  }
  for (float label : set.labels) {
    if (label != 0.0f && label != 1.0f) std::abort();
  }
  for (size_t i = 0; i < set.keys.size(); ++i) {
    if (!std::isfinite(set.values[i]) || set.keys[i] >= set.key_space) std::abort();
  }
  return 0;
}
