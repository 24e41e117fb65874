// Damaging files on purpose, for tests of what detects damage (checksums, restore's skipping).
#ifndef PS_COMMON_CHECKPOINT_FILE_DAMAGE_H_
#define PS_COMMON_CHECKPOINT_FILE_DAMAGE_H_

#include <cstdint>
#include <string>

namespace ps {

// Flips the bits of `mask` in the byte at `offset` of the file at `path`. Returns false when the
// file cannot be opened or is shorter than offset + 1.
bool FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x01);

}  // namespace ps

#endif  // PS_COMMON_CHECKPOINT_FILE_DAMAGE_H_
