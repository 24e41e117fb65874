#include "worker/model/model_file.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "worker/model/mlp.h"

namespace ps {
namespace {

constexpr char kMagic[8] = {'P', 'S', 'M', 'L', 'P', '\0', 'v', '1'};
constexpr uint32_t kMaxLayers = 64;

absl::Status CheckModel(const MlpModel& model) {
  if (model.layer_sizes.size() < 2 || model.layer_sizes.size() > kMaxLayers) {
    return absl::InvalidArgumentError(
        absl::StrCat("a model has 2 to ", kMaxLayers, " layer sizes, got ",
                     model.layer_sizes.size()));
  }
  for (int size : model.layer_sizes) {
    if (size <= 0) return absl::InvalidArgumentError(absl::StrCat("layer size ", size));
  }
  const uint64_t expected = MlpParameterCount(model.layer_sizes);
  if (model.parameters.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("layer sizes need ", expected,
                                                   " parameters, got ",
                                                   model.parameters.size()));
  }
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    if (!std::isfinite(model.parameters[i])) {
      return absl::InvalidArgumentError(absl::StrCat("parameter ", i, " is not finite"));
    }
  }
  return absl::OkStatus();
}

void AppendUint32(std::string& out, uint32_t value) {
  char bytes[4];
  absl::little_endian::Store32(bytes, value);
  out.append(bytes, 4);
}

// Reads fixed-size fields from a byte string, remembering whether it ran past the end.
class Cursor {
 public:
  explicit Cursor(const std::string& bytes) : bytes_(bytes) {}
  bool Take(size_t n, const char** out) {
    if (bytes_.size() - position_ < n) return false;
    *out = bytes_.data() + position_;
    position_ += n;
    return true;
  }
  size_t position() const { return position_; }

 private:
  const std::string& bytes_;
  size_t position_ = 0;
};

}  // namespace

absl::Status WriteMlpModel(const std::string& path, const MlpModel& model) {
  if (absl::Status valid = CheckModel(model); !valid.ok()) return valid;
  std::string bytes(kMagic, sizeof(kMagic));
  AppendUint32(bytes, model.layer_sizes.size());
  for (int size : model.layer_sizes) AppendUint32(bytes, size);
  char count[8];
  absl::little_endian::Store64(count, model.parameters.size());
  bytes.append(count, 8);
  for (float value : model.parameters) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    AppendUint32(bytes, bits);
  }
  AppendUint32(bytes, crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<MlpModel> ReadMlpModel(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open model file ", path));
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string bytes = contents.str();
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("model file ", path, ": ", what));
  };

  Cursor cursor(bytes);
  const char* field;
  if (!cursor.Take(sizeof(kMagic), &field) || std::memcmp(field, kMagic, sizeof(kMagic)) != 0) {
    return corrupt("not a PSMLP v1 model (wrong magic)");
  }
  if (!cursor.Take(4, &field)) return corrupt("truncated in the header");
  const uint32_t num_layers = absl::little_endian::Load32(field);
  if (num_layers < 2 || num_layers > kMaxLayers) {
    return corrupt(absl::StrCat(num_layers, " layer sizes"));
  }
  MlpModel model;
  for (uint32_t l = 0; l < num_layers; ++l) {
    if (!cursor.Take(4, &field)) return corrupt("truncated in the layer sizes");
    const uint32_t size = absl::little_endian::Load32(field);
    if (size == 0 || size > (1u << 24)) return corrupt(absl::StrCat("layer size ", size));
    model.layer_sizes.push_back(static_cast<int>(size));
  }
  if (!cursor.Take(8, &field)) return corrupt("truncated before the parameter count");
  const uint64_t count = absl::little_endian::Load64(field);
  if (count != MlpParameterCount(model.layer_sizes)) {
    return corrupt(absl::StrCat(count, " parameters do not fit the layer sizes"));
  }
  if (bytes.size() - cursor.position() != count * 4 + 4) {
    return corrupt(absl::StrCat("expected ", cursor.position() + count * 4 + 4, " bytes, found ",
                                bytes.size()));
  }
  cursor.Take(count * 4, &field);
  model.parameters.resize(count);
  std::memcpy(model.parameters.data(), field, count * 4);  // The format is little-endian.
  const uint32_t expected_crc =
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), cursor.position());
  cursor.Take(4, &field);
  if (absl::little_endian::Load32(field) != expected_crc) return corrupt("checksum mismatch");
  if (absl::Status valid = CheckModel(model); !valid.ok()) return corrupt(valid.message());
  return model;
}

}  // namespace ps
