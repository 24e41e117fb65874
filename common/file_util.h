// Small filesystem helpers. Stateless functions; safe for concurrent use on different paths.
// Errors name the path and the system's reason, with codes a caller can act on: NotFound (no such
// file or directory), PermissionDenied (EACCES, EPERM, EROFS), ResourceExhausted (a full disk or
// quota), Internal for the rest.
#ifndef PS_COMMON_FILE_UTIL_H_
#define PS_COMMON_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ps {

// Writes a file that appears under its name only whole and durable: the bytes go to a temporary
// file in the same directory, and Commit() fsyncs it, renames it over `path` and fsyncs the
// directory, so a crash at any point leaves the old file or the new one, never a mix. Destroyed
// without a successful Commit(), it removes the temporary file and `path` is untouched.
// Movable, not copyable; one thread at a time.
class AtomicFileWriter {
 public:
  // Errors: as the file comment says, e.g. NotFound for a missing directory.
  static absl::StatusOr<AtomicFileWriter> Open(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  absl::Status Append(absl::string_view bytes);
  // Errors: what fsync or rename report; the temporary file is removed.
  absl::Status Commit();

  uint64_t bytes_written() const { return written_; }

 private:
  AtomicFileWriter(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  // Closes and removes the temporary file.
  void Abandon();

  std::string path_;
  std::string temp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// Replaces `path` with `contents` atomically (AtomicFileWriter).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// The whole file. Errors: as the file comment says.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// An error for the failed system call `what` on `path`, from errno (see the file comment).
absl::Status ErrnoToStatus(absl::string_view what, const std::string& path, int error_number);

}  // namespace ps

#endif  // PS_COMMON_FILE_UTIL_H_
