// Scratch files for the fuzz targets whose decoders read files: one directory per process under
// $TEST_TMPDIR (or /tmp), rewritten for every input. Aborts on I/O failure (the harness, not the
// decoder, failed).
#ifndef PS_TESTS_FUZZ_SCRATCH_FILE_H_
#define PS_TESTS_FUZZ_SCRATCH_FILE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

namespace ps::fuzz {

// "<tmp>/<target>.<pid>", created once.
inline const std::string& ScratchDirectory(const char* target) {
  static const std::string path = [target] {
    const char* dir = std::getenv("TEST_TMPDIR");
    std::string made = std::string(dir != nullptr ? dir : "/tmp") + "/" + target + "." +
                       std::to_string(getpid());
    mkdir(made.c_str(), 0700);
    return made;
  }();
  return path;
}

inline void WriteScratchFile(const std::string& path, absl::string_view bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    std::abort();
  }
  if (std::fclose(file) != 0) std::abort();
}

inline std::string ReadScratchFile(const std::string& path) {
  std::string bytes;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) std::abort();
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) bytes.append(buffer, n);
  std::fclose(file);
  return bytes;
}

}  // namespace ps::fuzz

#endif  // PS_TESTS_FUZZ_SCRATCH_FILE_H_
