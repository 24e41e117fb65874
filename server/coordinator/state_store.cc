#include "server/coordinator/state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/message_file.h"

namespace ps {
namespace {

constexpr char kMagic[] = "PSCOORD1";

class LocalStateStore : public StateStore {
 public:
  LocalStateStore(std::string directory, int lock_fd)
      : directory_(std::move(directory)),
        path_(absl::StrCat(directory_, "/", kStateFileName)),
        lock_fd_(lock_fd) {}
  ~LocalStateStore() override { close(lock_fd_); }  // Releases the lock.

  absl::StatusOr<std::optional<v1::CoordinatorState>> Load() override {
    v1::CoordinatorState state;
    absl::Status read = ReadMessageFile(path_, kMagic, "a coordinator state file", &state);
    if (absl::IsNotFound(read)) return std::nullopt;
    if (!read.ok()) return read;
    return state;
  }

  absl::Status Save(const v1::CoordinatorState& state) override {
    return WriteMessageFile(path_, kMagic, state);
  }

  std::string Describe() const override {
    return absl::StrCat("local state directory ", directory_);
  }

 private:
  const std::string directory_;
  const std::string path_;
  const int lock_fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> OpenLocalStateStore(const std::string& directory) {
  if (directory.empty()) return absl::InvalidArgumentError("the state directory is empty");
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return ErrnoToStatus("cannot create the state directory", directory, error.value());
  const std::string lock_path = absl::StrCat(directory, "/LOCK");
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus("cannot open", lock_path, errno);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_error = errno;
    close(fd);
    if (lock_error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the state directory ", directory,
          " is in use by another coordinator (", lock_path, " is locked); one directory per "
          "coordinator"));
    }
    return ErrnoToStatus("cannot lock", lock_path, lock_error);
  }
  return std::unique_ptr<StateStore>(new LocalStateStore(directory, fd));
}

}  // namespace ps
