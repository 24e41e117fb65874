#include "common/checkpoint/file_damage.h"

#include <fstream>

namespace ps {

bool FlipByte(const std::string& path, uint64_t offset, uint8_t mask) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file) return false;
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  if (!file.read(&c, 1)) return false;
  c = static_cast<char>(c ^ mask);
  file.seekp(static_cast<std::streamoff>(offset));
  return static_cast<bool>(file.write(&c, 1));
}

}  // namespace ps
