// CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected), the checksum of checkpoint
// files. Uses the SSE4.2 crc32 instruction where the CPU has it (several GB/s, so checksumming a
// checkpoint costs little next to writing it) and a table otherwise; both give the same values.
// Stateless; thread-safe.
#ifndef PS_COMMON_CRC32C_H_
#define PS_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace ps {

// The CRC-32C of `size` bytes at `data`, continuing from `crc` (the CRC of the bytes before
// them; 0 to start): Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

}  // namespace ps

#endif  // PS_COMMON_CRC32C_H_
