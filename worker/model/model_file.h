// The file a trained MLP is exported to and evaluated from.
//
// Format, version 1 (all integers little-endian):
//   8 bytes   magic "PSMLP\0v1"
//   uint32    L, the number of layer sizes (input, hidden..., classes), 2 <= L <= 64
//   L x uint32  the layer sizes
//   uint64    N, the number of parameters; must equal MlpParameterCount(layer sizes)
//   N x float32 the parameters in the layout of mlp.h (per layer: weights row-major in x out,
//             then bias)
//   uint32    CRC-32 (zlib's) of every byte before it
// Written atomically (temporary file, fsync, rename), so a reader never sees half a model.
#ifndef PS_WORKER_MODEL_MODEL_FILE_H_
#define PS_WORKER_MODEL_MODEL_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ps {

struct MlpModel {
  std::vector<int> layer_sizes;
  std::vector<float> parameters;
};

// Errors: InvalidArgument when the parameters do not fit the layer sizes or are not finite;
// what writing returns (e.g. a full disk), leaving any previous file in place.
absl::Status WriteMlpModel(const std::string& path, const MlpModel& model);
// Errors: NotFound; DataLoss for a wrong magic, a truncated or overlong file, a checksum
// mismatch, sizes that do not fit, or non-finite parameters.
absl::StatusOr<MlpModel> ReadMlpModel(const std::string& path);

}  // namespace ps

#endif  // PS_WORKER_MODEL_MODEL_FILE_H_
