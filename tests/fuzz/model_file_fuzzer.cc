// Fuzz target: a saved MLP model file (worker/model/model_file.h, ReadMlpModel), read as-is and
// once more with its trailing CRC-32 recomputed, so that inputs get past the checksum to the
// fields behind it. Properties checked beyond "no crash", for every file the reader accepts:
// 2..64 layer sizes, each 1..2^24; exactly MlpParameterCount(sizes) parameters, all finite; and
// the format is canonical: writing the model back gives the same bytes.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "tests/fuzz/scratch_file.h"
#include "worker/model/mlp.h"
#include "worker/model/model_file.h"

namespace {

void Check(const std::string& bytes) {
  const std::string& dir = ps::fuzz::ScratchDirectory("model_file_fuzzer");
  const std::string path = dir + "/model";
  ps::fuzz::WriteScratchFile(path, bytes);
  absl::StatusOr<ps::MlpModel> model = ps::ReadMlpModel(path);
  if (!model.ok()) return;
  if (model->layer_sizes.size() < 2 || model->layer_sizes.size() > 64) std::abort();
  for (int layer : model->layer_sizes) {
    if (layer < 1 || layer > (1 << 24)) std::abort();
  }
  if (model->parameters.size() != ps::MlpParameterCount(model->layer_sizes)) std::abort();
  for (float parameter : model->parameters) {
    if (!std::isfinite(parameter)) std::abort();
  }
  const std::string copy = dir + "/copy";
  if (!ps::WriteMlpModel(copy, *model).ok()) std::abort();
  if (ps::fuzz::ReadScratchFile(copy) != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  if (size >= 4) {
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), size - 4);
    for (int i = 0; i < 4; ++i) bytes[size - 4 + i] = static_cast<char>(crc >> (8 * i));
    Check(bytes);
  }
  return 0;
}
