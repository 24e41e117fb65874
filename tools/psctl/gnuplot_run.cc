#include "tools/psctl/gnuplot_run.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"

extern char** environ;

namespace ps::psctl {
namespace {

// A directory made for one drawing, removed with everything written in it.
class ScratchDirectory {
 public:
  static absl::StatusOr<ScratchDirectory> Make(const std::string& parent) {
    std::string path = absl::StrCat(parent, "/psctl-plot-XXXXXX");
    if (mkdtemp(path.data()) == nullptr) return ErrnoToStatus("cannot create", path, errno);
    return ScratchDirectory(std::move(path));
  }
  ScratchDirectory(ScratchDirectory&& other) noexcept
      : path_(std::move(other.path_)), files_(std::move(other.files_)) {
    other.path_.clear();
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(ScratchDirectory&&) = delete;
  ~ScratchDirectory() {
    if (path_.empty()) return;
    for (const std::string& file : files_) unlink(file.c_str());
    rmdir(path_.c_str());
  }

  // The path of `name` in the directory, to be removed with it.
  std::string File(const std::string& name) {
    files_.push_back(absl::StrCat(path_, "/", name));
    return files_.back();
  }

 private:
  explicit ScratchDirectory(std::string path) : path_(std::move(path)) {}

  std::string path_;
  std::vector<std::string> files_;
};

// Runs `program script`, its stdout and stderr into `log`. Returns its exit status.
absl::StatusOr<int> Run(const std::string& program, const std::string& script,
                        const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(script.c_str()),
                             nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned == ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat(program, " is not installed (Debian: apt-get install gnuplot-nox)"));
  }
  if (spawned != 0) return ErrnoToStatus("cannot run", program, spawned);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoToStatus("waiting for", program, errno);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

absl::Status DrawWithGnuplot(const Plot& plot, const std::string& output,
                             const std::string& temp_dir, const std::string& gnuplot) {
  absl::StatusOr<ScratchDirectory> scratch = ScratchDirectory::Make(temp_dir);
  if (!scratch.ok()) return scratch.status();
  std::vector<std::string> data_files;
  for (const std::vector<Series>* panel : {&plot.loss, &plot.accuracy}) {
    for (const Series& series : *panel) {
      data_files.push_back(scratch->File(absl::StrCat("series-", data_files.size(), ".dat")));
      if (absl::Status written = WriteFileAtomically(data_files.back(), SeriesData(series));
          !written.ok()) {
        return written;
      }
    }
  }
  const std::string script = scratch->File("plot.gp");
  if (absl::Status written = WriteFileAtomically(script, GnuplotScript(plot, data_files, output));
      !written.ok()) {
    return written;
  }
  const std::string log = scratch->File("gnuplot.log");
  // An image left from an earlier run must not pass for this one's.
  unlink(output.c_str());
  absl::StatusOr<int> exit_status = Run(gnuplot, script, log);
  if (!exit_status.ok()) return exit_status.status();
  const std::string messages(
      absl::StripTrailingAsciiWhitespace(ReadFileToString(log).value_or("")));
  struct stat image;
  if (*exit_status != 0 || stat(output.c_str(), &image) != 0 || image.st_size == 0) {
    return absl::InternalError(absl::StrCat(gnuplot, " exited with status ", *exit_status,
                                            " and drew no image into ", output,
                                            messages.empty() ? "" : ": ", messages));
  }
  return absl::OkStatus();
}

}  // namespace ps::psctl
