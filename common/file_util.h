// Small filesystem helpers. Stateless; safe for concurrent use on different paths.
#ifndef PS_COMMON_FILE_UTIL_H_
#define PS_COMMON_FILE_UTIL_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace ps {

// Replaces `path` with `contents` atomically: readers see the old file or the whole new one, never
// a partial write (temp file in the same directory, fsync, rename, fsync of the directory).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace ps

#endif  // PS_COMMON_FILE_UTIL_H_
