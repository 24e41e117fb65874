// Checkpoint figures (issue 12) against real localhost processes, printed; not part of the test
// suite's pass/fail. Two sections:
//   checkpoint: a dense SGD model of --model_mb MiB (default 256) on 2 servers, 8 virtual shards,
//               R = 2 (4 led shards per server):
//     write:    Coordinator.Checkpoint, --rounds times (median), against a sequential write of
//               the same bytes as the same number of files into the same checkpoint directory
//               by this one process, with the same durability (write, fsync, rename, fsync of the
//               directory per file), and by 2 threads at once as the 2 servers write; rounds
//               alternate the order.
//     restore:  a new cluster with --restore, timed from starting the coordinator to the last
//               shard restored on every replica (the servers' "restored from" log lines), minus
//               the start of the same cluster without --restore; against a sequential read of
//               the checkpoint's files (and, as the restore reads into new memory, into new
//               memory). The page cache is dropped before every restore, start and
//               baseline read when /proc/sys/vm/drop_caches is writable (root), and the output
//               says whether it was.
//   steps:      step time of a training loop in this process (one PsClient worker, ASP: push a
//               gradient of the whole --step_model_mb MiB dense table, then pull it) without
//               checkpoints and with one every second (Coordinator.Checkpoint from a thread, 1 s
//               after the previous one ended, as --checkpoint_interval_s=1 does), in alternating
//               blocks on one cluster; p50 / p99 and the ratio of p99s.
// Every section also prints how much CPU other processes took meanwhile: on a shared machine
// that, not the code, can decide a figure.
// Usage: checkpoint_bench [--sections=checkpoint,steps] [--rounds=5] [--model_mb=256]
//          [--step_model_mb=64] [--steps=600] [--step_blocks=3] [--checkpoint_root=DIR]
//          [--perf_dir=DIR] [--keep_files] [--nodrop_caches]
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/daemon_process.h"
#include "tests/bench/bench_cluster.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(std::string, sections, "checkpoint,steps", "Which measurements to run.");
ABSL_FLAG(int, rounds, 5, "Checkpoint writes and restores measured (the median is reported).");
ABSL_FLAG(int, model_mb, 256, "MiB of float values in the model of the checkpoint section.");
ABSL_FLAG(int, step_model_mb, 64, "MiB of float values in the model of the steps section.");
ABSL_FLAG(int, steps, 600, "Measured steps with checkpoints, and as many without.");
ABSL_FLAG(int, step_blocks, 3, "Blocks each condition's steps are measured in, alternating.");
ABSL_FLAG(std::string, checkpoint_root, "",
          "Where checkpoints and baseline files go (a directory on the disk to measure; \"\": a "
          "fresh one under $TMPDIR or /tmp). Removed at the end unless --keep_files.");
ABSL_FLAG(bool, keep_files, false, "Keep the checkpoints and baseline files.");
ABSL_FLAG(bool, drop_caches, true,
          "Drop the page cache (sync; echo 3 > /proc/sys/vm/drop_caches) before every restore, "
          "cluster start and baseline read.");
ABSL_FLAG(std::string, perf_dir, "",
          "If set, `perf record -g` the coordinator and servers during the checkpoint writes "
          "(write.data) and the whole machine during the restores (restore.data) into DIR; the "
          "last round's stays. "
          "Profiling slows the figures down: use it for a separate run.");

namespace ps::bench {
namespace {

namespace fs = std::filesystem;
using ::ps::testing::LocalCluster;
using ::ps::testing::LocalClusterOptions;

constexpr uint32_t kServers = 2;
constexpr uint32_t kShards = 8;  // 4 led per server.
constexpr uint32_t kReplicas = 2;
// Chunk of the baseline's write() and read() calls, like a cp or cat of large files.
constexpr size_t kIoChunk = size_t{4} << 20;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "checkpoint_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Fail(absl::StrCat(what, ": ", status.ToString()));
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

// Nearest-rank percentile of `values` (q in [0, 1]).
double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double Mb(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

std::string Rounds(const std::vector<double>& values, const char* format) {
  std::string all;
  for (double value : values) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), format, value);
    absl::StrAppend(&all, all.empty() ? "" : " ", buffer);
  }
  return all;
}

// ---------------------------------------------------------------------------------------------
// The page cache and the plain-file baselines.

// True when the page cache was written back and dropped (needs root outside a read-only /proc).
bool DropCaches() {
  if (!absl::GetFlag(FLAGS_drop_caches)) return false;
  sync();
  const int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool dropped = write(fd, "3", 1) == 1;
  close(fd);
  return dropped;
}

void WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = write(fd, data, std::min(size, kIoChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(absl::StrCat("baseline: cannot write ", path, ": ", std::strerror(errno)));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void FsyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    Fail(absl::StrCat("baseline: cannot fsync ", path, ": ", std::strerror(errno)));
  }
  close(fd);
}

// Writes files `first`, `first + step`, ... of `sizes` (bytes from `source`, cycled) into
// `directory`, one after the other, as AtomicFileWriter does for every shard file: a temporary
// file, write, fsync, close, rename, fsync of the directory.
void WriteFiles(const std::string& directory, const std::vector<uint64_t>& sizes, size_t first,
                size_t step, const std::vector<char>& source) {
  for (size_t i = first; i < sizes.size(); i += step) {
    const std::string path = absl::StrCat(directory, "/file-", i);
    const std::string temp = path + ".tmp";
    const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Fail(absl::StrCat("baseline: cannot create ", temp, ": ", std::strerror(errno)));
    for (uint64_t left = sizes[i]; left > 0;) {
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(left, source.size()));
      WriteAll(fd, source.data(), piece, temp);
      left -= piece;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
      Fail(absl::StrCat("baseline: cannot fsync ", temp, ": ", std::strerror(errno)));
    }
    if (rename(temp.c_str(), path.c_str()) != 0) {
      Fail(absl::StrCat("baseline: cannot rename ", temp, ": ", std::strerror(errno)));
    }
    FsyncPath(directory, O_RDONLY | O_DIRECTORY);
  }
}

// Seconds to create `directory` and write files of `sizes` into it (WriteFiles) with `writers`
// threads, each taking every writers-th file: 1 is the sequential baseline; 2 does what the two
// servers do at once.
double TimedWrite(const std::string& directory, const std::vector<uint64_t>& sizes, int writers,
                  const std::vector<char>& source) {
  const absl::Time start = absl::Now();
  if (mkdir(directory.c_str(), 0755) != 0) {
    Fail(absl::StrCat("baseline: cannot create ", directory, ": ", std::strerror(errno)));
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back(WriteFiles, std::cref(directory), std::cref(sizes), w, writers,
                         std::cref(source));
  }
  for (std::thread& thread : threads) thread.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// Seconds to read `paths` whole, one after the other, as `cat` would: into one buffer already
// faulted in (`fresh` false: the kernel's sequential read path alone), or into new memory per file
// (`fresh` true: an anonymous mapping, which malloc would not guarantee), as ReadShardFile reads
// into a new slice; that adds the page faults of new memory, costly in some virtual machines.
double SequentialRead(const std::vector<std::string>& paths, bool fresh) {
  uint64_t largest = 0;
  for (const std::string& path : paths) largest = std::max<uint64_t>(largest, fs::file_size(path));
  std::vector<char> reused(fresh ? 0 : largest, 1);
  const absl::Time start = absl::Now();
  for (const std::string& path : paths) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(absl::StrCat("baseline: cannot open ", path, ": ", std::strerror(errno)));
    const size_t size = fresh ? static_cast<size_t>(fs::file_size(path)) : reused.size();
    char* buffer = reused.data();
    if (fresh) {
      void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mapped == MAP_FAILED) Fail(absl::StrCat("baseline: mmap: ", std::strerror(errno)));
      buffer = static_cast<char*>(mapped);
    }
    size_t done = 0;
    while (true) {
      const ssize_t n = read(fd, buffer + done, std::min(kIoChunk, size - done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail(absl::StrCat("baseline: cannot read ", path, ": ", std::strerror(errno)));
      if (n == 0) break;
      done += static_cast<size_t>(n);
      if (done == size) {
        if (fresh) break;
        done = 0;
      }
    }
    close(fd);
    if (fresh) munmap(buffer, size);
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// ---------------------------------------------------------------------------------------------
// What else ran: figures from a machine busy with other work are not the code's.

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// CPU seconds the whole machine spent busy (/proc/stat), and this process and its reaped children
// (the daemons, once their cluster is destroyed).
struct CpuClock {
  double machine_busy_s = 0;
  double ours_s = 0;
  absl::Time at;
};

CpuClock ReadCpuClock() {
  CpuClock clock;
  clock.at = absl::Now();
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  clock.machine_busy_s =
      static_cast<double>(user + nice + system + irq + softirq) / sysconf(_SC_CLK_TCK);
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    struct rusage usage;
    getrusage(who, &usage);
    clock.ours_s += usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                    usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  }
  return clock;
}

// "other processes used X CPU-s of the machine's Y during these Z s" since `start`.
std::string OthersSince(const CpuClock& start) {
  const CpuClock now = ReadCpuClock();
  const double wall = absl::ToDoubleSeconds(now.at - start.at);
  const double others =
      std::max(0.0, (now.machine_busy_s - start.machine_busy_s) - (now.ours_s - start.ours_s));
  return absl::StrFormat("other processes used %.1f CPU-s of the machine's %.1f during these "
                         "%.0f s (%.0f%%); this benchmark and its daemons %.1f CPU-s",
                         others, wall * sysconf(_SC_NPROCESSORS_ONLN), wall,
                         100.0 * others / (wall * sysconf(_SC_NPROCESSORS_ONLN)),
                         now.ours_s - start.ours_s);
}

// Minor page faults of process `pid` so far (/proc/PID/stat field 10): each is a 4 KiB page of
// new memory touched for the first time, expensive in some virtual machines.
uint64_t MinorFaults(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t after_name = stat.rfind(')');
  if (after_name == std::string::npos) return 0;
  // Fields from 3 on: state ppid pgrp session tty_nr tpgid flags minflt.
  std::vector<std::string> fields = absl::StrSplit(stat.substr(after_name + 2), ' ');
  uint64_t faults = 0;
  if (fields.size() > 7 && !absl::SimpleAtoi(fields[7], &faults)) return 0;
  return faults;
}

uint64_t ServerFaults(LocalCluster& cluster) {
  uint64_t faults = 0;
  for (int i = 0; i < cluster.num_servers(); ++i) faults += MinorFaults(cluster.server(i).pid());
  return faults;
}

// ---------------------------------------------------------------------------------------------
// Daemon logs (spdlog: "%Y-%m-%d %H:%M:%S.%e <level> <name>[pid] <message>", local time).

struct LogLine {
  absl::Time time;
  std::string text;
};

// The lines of the log at `path` that contain `needle`, with their timestamps.
std::vector<LogLine> GrepLog(const std::string& path, absl::string_view needle) {
  std::vector<LogLine> lines;
  std::ifstream log(path);
  std::string line;
  while (std::getline(log, line)) {
    if (!absl::StrContains(line, needle) || line.size() < 23) continue;
    LogLine parsed;
    std::string error;
    if (!absl::ParseTime("%Y-%m-%d %H:%M:%E3S", line.substr(0, 23), absl::LocalTimeZone(),
                         &parsed.time, &error)) {
      continue;
    }
    parsed.text = line;
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// The number after `key` in `text` (e.g. " in " of "... in 0.412 s"), or -1.
double NumberAfter(const std::string& text, const std::string& key) {
  const size_t at = text.rfind(key);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Profiling with perf (--perf_dir).

class PerfRecording {
 public:
  // `target`: "-a" for the whole machine, else a comma-separated pid list.
  PerfRecording(const std::string& output, const std::string& target) {
    pid_ = fork();
    if (pid_ == 0) {
      // A system-wide recording would outlive a benchmark that exits on an error.
      prctl(PR_SET_PDEATHSIG, SIGINT);
      std::vector<std::string> args = {"perf", "record", "-g", "-q", "-o", output};
      if (target == "-a") {
        args.push_back("-a");
      } else {
        args.push_back("-p");
        args.push_back(target);
      }
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execvp("perf", argv.data());
      _exit(127);
    }
    absl::SleepFor(absl::Seconds(1));  // perf attaches before the work starts.
  }
  ~PerfRecording() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

std::unique_ptr<PerfRecording> MaybePerf(const std::string& name, const std::string& target) {
  const std::string directory = absl::GetFlag(FLAGS_perf_dir);
  if (directory.empty()) return nullptr;
  fs::create_directories(directory);
  return std::make_unique<PerfRecording>(absl::StrCat(directory, "/", name), target);
}

// ---------------------------------------------------------------------------------------------
// The cluster.

v1::TableSpec DenseSpec(const std::string& name, uint64_t size) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(size);
  // SGD: the checkpoint holds the values and nothing else (no optimizer slots).
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1e-3f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_UNIFORM);
  spec.mutable_initializer()->set_seed(7);
  spec.mutable_initializer()->set_min(-1.0f);
  spec.mutable_initializer()->set_max(1.0f);
  return spec;
}

LocalClusterOptions ClusterOptions(const std::vector<std::string>& coordinator_args) {
  LocalClusterOptions options;
  options.servers = kServers;
  options.workers = 0;  // This process is the worker.
  options.num_shards = kShards;
  options.replication_factor = kReplicas;
  options.coordinator_args = coordinator_args;
  return options;
}

std::unique_ptr<LocalCluster> StartCluster(const LocalClusterOptions& options) {
  return ::ps::testing::StartClusterOrExit(options, "checkpoint_bench");
}

std::unique_ptr<PsClient> Worker(LocalCluster& cluster) {
  return ::ps::testing::ConnectWorkerOrExit(cluster, "checkpoint_bench");
}

v1::CheckpointNowResponse TakeCheckpoint(LocalCluster& cluster) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
  v1::CheckpointNowResponse response;
  const grpc::Status status = cluster.coordinator().Checkpoint(&context, {}, &response);
  if (!status.ok()) {
    Fail(absl::StrCat("Coordinator.Checkpoint: ", status.error_message(), "\n",
                      cluster.AllLogs()));
  }
  return response;
}

v1::DescribeShardsResponse Describe(const std::string& address) {
  auto stub = v1::ParameterServer::NewStub(OpenChannel(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::DescribeShardsResponse response;
  const grpc::Status status = stub->DescribeShards(&context, {}, &response);
  if (!status.ok()) Fail(absl::StrCat("DescribeShards on ", address, ": ", status.error_message()));
  return response;
}

// ---------------------------------------------------------------------------------------------
// Section "checkpoint": write and restore throughput.

struct WriteRound {
  double rpc_wall_s = 0;     // Around Coordinator.Checkpoint, here.
  double reported_s = 0;     // CheckpointNowResponse.seconds.
  double slowest_server_s = 0;  // The longer of the servers' own "wrote ... in T s".
  uint64_t server_faults = 0;   // Both servers' page faults during the rpc.
  double baseline_s = 0;
  double parallel_s = 0;     // The same files by 2 threads at once.
  uint64_t bytes = 0;
};

// The servers' "checkpoint ID: wrote ... in T s" for checkpoint `id`: the longest T.
double SlowestServerWrite(LocalCluster& cluster, uint64_t id) {
  double slowest = 0;
  for (int i = 0; i < cluster.num_servers(); ++i) {
    for (const LogLine& line :
         GrepLog(cluster.server(i).log_path(), absl::StrCat("checkpoint ", id, ": wrote "))) {
      slowest = std::max(slowest, NumberAfter(line.text, " in "));
    }
  }
  return slowest;
}

struct RestoreRound {
  double plain_start_s = 0;      // Coordinator start -> every server at the placement map.
  double total_s = 0;            // Coordinator start -> last shard restored on every replica.
  double coordinator_verified_s = 0;  // Coordinator start -> its "restore: ... verified" line.
  double first_restored_s = 0;   // Coordinator start -> the first "restored from" line.
  double baseline_cold_s = 0;    // Sequential read of the files after dropping the cache.
  double baseline_warm_s = 0;    // The same read again, from the page cache.
  double baseline_warm_fresh_s = 0;  // From the page cache into new memory per file.
  double server_span_s = 0;      // The slower server's first to last "restored from" line.
  uint64_t server_faults = 0;    // Page faults of the servers from their start to the restore.
  uint64_t coordinator_faults = 0;
  bool dropped = false;
};

// Starts the cluster of `options` and returns the seconds from the coordinator's start until
// every server has adopted the map that places the shards (DescribeShards reports its epoch;
// without tables it has nothing to serialize, so the poll costs nothing).
double PlainStart(const LocalClusterOptions& options) {
  const absl::Time start = absl::Now();
  std::unique_ptr<LocalCluster> cluster = StartCluster(options);
  absl::StatusOr<v1::ClusterMap> map =
      cluster->WaitForMap([](const v1::ClusterMap&) { return true; }, absl::Seconds(10));
  Check(map.status(), "reading the map");
  for (int i = 0; i < cluster->num_servers(); ++i) {
    while (Describe(cluster->server_address(i)).epoch() < map->epoch()) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// Starts a cluster with --restore and times it (see RestoreRound). `files` is the checkpoint's,
// by (table, shard); returns the map with the placement, for the bytes each server read.
RestoreRound TimedRestore(const LocalClusterOptions& options,
                          const std::map<std::pair<uint32_t, uint32_t>, v1::ShardCheckpoint>& files,
                          const std::string& directory, v1::ClusterMap* placed) {
  RestoreRound round;
  std::unique_ptr<PerfRecording> perf = MaybePerf("restore.data", "-a");
  round.dropped = DropCaches();
  const absl::Time start = absl::Now();
  std::unique_ptr<LocalCluster> cluster = StartCluster(options);
  absl::StatusOr<v1::ClusterMap> map = cluster->WaitForMap(
      [](const v1::ClusterMap& m) { return m.shards_size() == static_cast<int>(kShards); },
      absl::Seconds(10));
  Check(map.status(), "reading the map");
  *placed = *map;
  // Every server logs "table T shard S: restored from DIR/FILE (log index I, B bytes)" once per
  // shard it holds, right after loading it (ReplicaSet::AdoptMap, under its lock). Counting them
  // per server is exact, cheap, and does not disturb the servers as DescribeShards would (it
  // serializes and checksums every shard it holds).
  std::vector<int> expected(cluster->num_servers(), 0);
  for (const v1::ShardAssignment& shard : map->shards()) {
    for (uint32_t replica : shard.replicas()) {
      const int index = cluster->ServerIndex(*map, replica);
      if (index < 0) Fail("a replica the harness did not start");
      expected[index] += map->tables_size();
    }
  }
  const std::string restored_from = absl::StrCat(": restored from ", directory, "/");
  absl::Time first = absl::InfiniteFuture();
  absl::Time last = absl::InfinitePast();
  for (int i = 0; i < cluster->num_servers(); ++i) {
    const absl::Time deadline = absl::Now() + absl::Minutes(5);
    std::vector<LogLine> lines;
    while (true) {
      lines = GrepLog(cluster->server(i).log_path(), restored_from);
      if (static_cast<int>(lines.size()) >= expected[i]) break;
      if (!GrepLog(cluster->server(i).log_path(), "cannot restore from checkpoint").empty() ||
          absl::Now() > deadline) {
        Fail(absl::StrCat("server ", i, " restored ", lines.size(), " of ", expected[i],
                          " shards:\n", cluster->AllLogs()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    absl::Time server_first = absl::InfiniteFuture();
    absl::Time server_last = absl::InfinitePast();
    for (const LogLine& line : lines) {
      server_first = std::min(server_first, line.time);
      server_last = std::max(server_last, line.time);
    }
    first = std::min(first, server_first);
    last = std::max(last, server_last);
    round.server_span_s =
        std::max(round.server_span_s, absl::ToDoubleSeconds(server_last - server_first));
  }
  round.total_s = absl::ToDoubleSeconds(last - start);
  round.first_restored_s = absl::ToDoubleSeconds(first - start);
  const std::vector<LogLine> verified =
      GrepLog(cluster->coordinator_process().log_path(), "restore: cluster restored from");
  if (!verified.empty()) {
    round.coordinator_verified_s = absl::ToDoubleSeconds(verified.front().time - start);
  }
  round.server_faults = ServerFaults(*cluster);
  round.coordinator_faults = MinorFaults(cluster->coordinator_process().pid());
  perf.reset();
  // Outside the timing: every replica holds its shard at the checkpoint's log index.
  for (int i = 0; i < cluster->num_servers(); ++i) {
    int installed = 0;
    const v1::DescribeShardsResponse described = Describe(cluster->server_address(i));
    for (const v1::ShardReplicaInfo& replica : described.replicas()) {
      const auto it = files.find({replica.table_id(), replica.shard_id()});
      if (it == files.end() || !replica.installed() ||
          replica.log_index() != it->second.log_index()) {
        Fail(absl::StrCat("server ", i, " holds table ", replica.table_id(), " shard ",
                          replica.shard_id(), " not as the checkpoint has it: ",
                          replica.ShortDebugString()));
      }
      ++installed;
    }
    if (installed != expected[i]) {
      Fail(absl::StrCat("server ", i, " lists ", installed, " shards, expected ", expected[i]));
    }
  }
  return round;
}

struct CheckpointResult {
  double write_ratio = 0;
  double restore_ratio = 0;        // Checkpoint bytes / restore only, over the cold read.
  double restore_total_ratio = 0;  // The same without subtracting the plain start.
  double restore_read_ratio = 0;   // Bytes read / restore only, over the cold read.
  bool dropped = false;
};

CheckpointResult RunCheckpoint(const std::string& root, int rounds) {
  const CpuClock section_start = ReadCpuClock();
  const uint64_t size = (uint64_t{static_cast<uint64_t>(absl::GetFlag(FLAGS_model_mb))} << 20) /
                        sizeof(float);
  const std::string checkpoints = root + "/checkpoints";
  fs::create_directories(checkpoints);
  // Keeps every round's checkpoint: pruning (unlinking the previous one) stays out of the rpc.
  const LocalClusterOptions options = ClusterOptions(
      {"--checkpoint_dir=" + checkpoints, absl::StrCat("--checkpoint_keep=", rounds + 1)});
  LocalClusterOptions restore_options = options;
  restore_options.coordinator_args.push_back("--restore");

  std::printf("\n== Checkpoint write and restore: %llu MiB dense SGD model (%llu floats), %u "
              "servers, %u shards (4 led per server), R = %u; checkpoints in %s\n",
              static_cast<unsigned long long>(size * sizeof(float) >> 20),
              static_cast<unsigned long long>(size), kServers, kShards, kReplicas,
              checkpoints.c_str());
  std::fflush(stdout);

  std::vector<WriteRound> writes;
  v1::CheckpointNowResponse last;
  {
    std::unique_ptr<LocalCluster> cluster = StartCluster(options);
    std::unique_ptr<PsClient> client = Worker(*cluster);
    absl::StatusOr<v1::TableInfo> table = client->CreateTable(DenseSpec("model", size));
    Check(table.status(), "creating the table");
    // Values that are neither zero nor the initializer's: a real push of a non-constant gradient.
    // Its bytes are also the baseline's (incompressible enough; the filesystem does not compress).
    std::vector<float> gradient(size);
    for (uint64_t i = 0; i < size; ++i) {
      gradient[i] = static_cast<float>((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    }
    Check(client->Push(*table, gradient), "filling the model");
    const std::vector<char> source(reinterpret_cast<const char*>(gradient.data()),
                                   reinterpret_cast<const char*>(gradient.data()) +
                                       std::min<size_t>(size * sizeof(float), size_t{64} << 20));
    std::vector<float>().swap(gradient);

    std::string pids = absl::StrCat(cluster->coordinator_process().pid());
    for (int i = 0; i < cluster->num_servers(); ++i) {
      absl::StrAppend(&pids, ",", cluster->server(i).pid());
    }
    std::vector<uint64_t> sizes;
    for (int round = 0; round < rounds; ++round) {
      WriteRound figures;
      const auto checkpoint = [&] {
        sync();  // Nothing left over from before is written back during the measurement.
        std::unique_ptr<PerfRecording> perf = MaybePerf("write.data", pids);
        const uint64_t faults = ServerFaults(*cluster);
        const absl::Time start = absl::Now();
        last = TakeCheckpoint(*cluster);
        figures.rpc_wall_s = absl::ToDoubleSeconds(absl::Now() - start);
        figures.server_faults = ServerFaults(*cluster) - faults;
        figures.reported_s = last.seconds();
        figures.bytes = last.total_bytes();
        figures.slowest_server_s = SlowestServerWrite(*cluster, last.checkpoint_id());
        sizes.clear();
        for (const v1::ShardCheckpoint& file : last.shards()) sizes.push_back(file.size_bytes());
      };
      const auto baseline = [&] {
        sync();
        figures.baseline_s = TimedWrite(absl::StrCat(checkpoints, "/baseline-write-", round),
                                        sizes, 1, source);
      };
      const auto parallel = [&] {
        sync();
        figures.parallel_s = TimedWrite(absl::StrCat(checkpoints, "/baseline-parallel-", round),
                                        sizes, 2, source);
      };
      // Round 0 learns the file sizes from the checkpoint; later rounds alternate the order, so
      // that no side always finds the disk busy writing back another's bytes.
      if (round % 2 == 0) {
        checkpoint();
        baseline();
        parallel();
      } else {
        parallel();
        baseline();
        checkpoint();
      }
      writes.push_back(figures);
    }
    // Removed only now: the filesystem discards freed blocks, which would load the disk during
    // the next round.
    for (int round = 0; round < rounds; ++round) {
      fs::remove_all(absl::StrCat(checkpoints, "/baseline-write-", round));
      fs::remove_all(absl::StrCat(checkpoints, "/baseline-parallel-", round));
    }
    client.reset();
    // Destroying the cluster SIGKILLs every daemon, as in a power cut.
  }

  std::vector<double> rpc_mbps, reported_mbps, server_mbps, baseline_mbps, ratios, parallel_mbps,
      parallel_ratios;
  for (const WriteRound& w : writes) {
    rpc_mbps.push_back(Mb(w.bytes) / w.rpc_wall_s);
    reported_mbps.push_back(Mb(w.bytes) / w.reported_s);
    server_mbps.push_back(Mb(w.bytes) / w.slowest_server_s);
    baseline_mbps.push_back(Mb(w.bytes) / w.baseline_s);
    ratios.push_back(Mb(w.bytes) / w.rpc_wall_s / (Mb(w.bytes) / w.baseline_s));
    parallel_mbps.push_back(Mb(w.bytes) / w.parallel_s);
    parallel_ratios.push_back(w.parallel_s / w.rpc_wall_s);
  }
  std::printf("\n-- Write (%d rounds; MB = 10^6 bytes; median, then every round)\n", rounds);
  std::printf("checkpoint bytes:                          %llu (%u shard files of about %.1f MB)\n",
              static_cast<unsigned long long>(last.total_bytes()), last.shards_size(),
              Mb(last.total_bytes()) / std::max(1, last.shards_size()));
  std::printf("Coordinator.Checkpoint, wall clock here:   %8.1f MB/s   [%s]\n", Median(rpc_mbps),
              Rounds(rpc_mbps, "%.0f").c_str());
  std::printf("  as the response's `seconds` says:        %8.1f MB/s   [%s]\n",
              Median(reported_mbps), Rounds(reported_mbps, "%.0f").c_str());
  std::printf("  slower server's own write (its log):     %8.1f MB/s   [%s]\n",
              Median(server_mbps), Rounds(server_mbps, "%.0f").c_str());
  std::vector<double> faults;
  for (const WriteRound& w : writes) faults.push_back(static_cast<double>(w.server_faults));
  std::printf("  servers' page faults per checkpoint:     %8.0f        [%s] (%.0f MB of new "
              "memory)\n", Median(faults), Rounds(faults, "%.0f").c_str(),
              Median(faults) * 4096 / 1e6);
  std::printf("sequential write, 1 process, same files:   %8.1f MB/s   [%s]\n",
              Median(baseline_mbps), Rounds(baseline_mbps, "%.0f").c_str());
  std::printf("  the same files by 2 threads at once:     %8.1f MB/s   [%s]\n",
              Median(parallel_mbps), Rounds(parallel_mbps, "%.0f").c_str());
  std::printf("write ratio (checkpoint rpc / sequential): %8.2f x     [%s]\n", Median(ratios),
              Rounds(ratios, "%.2f").c_str());
  std::printf("  checkpoint rpc / 2 threads at once:      %8.2f x     [%s]\n",
              Median(parallel_ratios), Rounds(parallel_ratios, "%.2f").c_str());
  std::fflush(stdout);

  // Restore: the newest checkpoint, the last one written.
  std::map<std::pair<uint32_t, uint32_t>, v1::ShardCheckpoint> files;
  std::vector<std::string> paths;
  for (const v1::ShardCheckpoint& file : last.shards()) {
    files[{file.table_id(), file.shard_id()}] = file;
    paths.push_back(absl::StrCat(last.directory(), "/", file.path()));
  }
  std::vector<RestoreRound> restores;
  uint64_t server_bytes = 0;
  bool all_dropped = true;
  for (int round = 0; round < rounds; ++round) {
    const bool dropped_for_start = DropCaches();
    const double plain = PlainStart(options);
    v1::ClusterMap map;
    RestoreRound figures = TimedRestore(restore_options, files, last.directory(), &map);
    figures.plain_start_s = plain;
    server_bytes = 0;
    for (const v1::ShardAssignment& shard : map.shards()) {
      for (const v1::TableInfo& table : map.tables()) {
        const auto it = files.find({table.table_id(), shard.shard_id()});
        if (it != files.end()) server_bytes += it->second.size_bytes() * shard.replicas_size();
      }
    }
    const bool dropped_for_read = DropCaches();
    figures.baseline_cold_s = SequentialRead(paths, /*fresh=*/false);
    figures.baseline_warm_s = SequentialRead(paths, /*fresh=*/false);
    figures.baseline_warm_fresh_s = SequentialRead(paths, /*fresh=*/true);
    all_dropped = all_dropped && dropped_for_start && figures.dropped && dropped_for_read;
    restores.push_back(figures);
  }
  const uint64_t bytes = last.total_bytes();
  // The coordinator reads and checks every file once before it serves (FindRestorePoint), then
  // each server loads every shard it holds, primary or backup.
  const uint64_t read_bytes = bytes + server_bytes;
  std::vector<double> totals, plains, only, verified, first, spans, fresh_mbps, server_faults,
      coordinator_faults;
  std::vector<double> ckpt_mbps, read_mbps, cold_mbps, warm_mbps, ratios_only, ratios_total,
      ratios_read, modelled;
  for (const RestoreRound& r : restores) {
    const double restore_only = r.total_s - r.plain_start_s;
    totals.push_back(r.total_s);
    plains.push_back(r.plain_start_s);
    only.push_back(restore_only);
    verified.push_back(r.coordinator_verified_s);
    first.push_back(r.first_restored_s);
    spans.push_back(r.server_span_s);
    server_faults.push_back(static_cast<double>(r.server_faults));
    coordinator_faults.push_back(static_cast<double>(r.coordinator_faults));
    fresh_mbps.push_back(Mb(bytes) / r.baseline_warm_fresh_s);
    ckpt_mbps.push_back(Mb(bytes) / restore_only);
    read_mbps.push_back(Mb(read_bytes) / restore_only);
    cold_mbps.push_back(Mb(bytes) / r.baseline_cold_s);
    warm_mbps.push_back(Mb(bytes) / r.baseline_warm_s);
    ratios_only.push_back(r.baseline_cold_s / restore_only);
    ratios_total.push_back(r.baseline_cold_s / r.total_s);
    ratios_read.push_back(Mb(read_bytes) / restore_only / (Mb(bytes) / r.baseline_cold_s));
    // What the restore reads, done sequentially by one process: one cold pass (the
    // coordinator's check), then server_bytes from the page cache it left.
    modelled.push_back((r.baseline_cold_s + r.baseline_warm_s * server_bytes / bytes) /
                       restore_only);
  }
  std::printf("\n-- Restore (%d rounds; median, then every round). Page cache %s.\n", rounds,
              all_dropped ? "dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every "
                            "cluster start, restore and baseline read"
                          : "NOT dropped (drop_caches not writable or --nodrop_caches): both "
                            "sides read from the page cache");
  std::printf("bytes read: %llu = %llu checked by the coordinator + %llu loaded by the servers "
              "(each holds all %u shards, primary or backup)\n",
              static_cast<unsigned long long>(read_bytes), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(server_bytes), kShards);
  std::printf("cluster start without restore:             %8.3f s      [%s]\n", Median(plains),
              Rounds(plains, "%.3f").c_str());
  std::printf("cluster start with --restore, until the last shard is restored on every replica:\n"
              "                                           %8.3f s      [%s]\n", Median(totals),
              Rounds(totals, "%.3f").c_str());
  std::printf("  coordinator checked the files at:        %8.3f s      [%s]\n", Median(verified),
              Rounds(verified, "%.3f").c_str());
  std::printf("  first shard restored at:                 %8.3f s      [%s]\n", Median(first),
              Rounds(first, "%.3f").c_str());
  std::printf("  the slower server, first to last shard: %8.3f s      [%s] (%.1f MB loaded "
              "each)\n", Median(spans), Rounds(spans, "%.3f").c_str(),
              Mb(server_bytes) / kServers);
  std::printf("  servers' page faults (both, from exec): %9.0f        [%s] (%.0f MB of new "
              "memory; the shards they hold are %.0f MB)\n",
              Median(server_faults), Rounds(server_faults, "%.0f").c_str(),
              Median(server_faults) * 4096 / 1e6, Mb(server_bytes));
  std::printf("  coordinator's page faults (from exec):  %9.0f        [%s] (%.0f MB)\n",
              Median(coordinator_faults), Rounds(coordinator_faults, "%.0f").c_str(),
              Median(coordinator_faults) * 4096 / 1e6);
  std::printf("restore only (with - without restore):     %8.3f s      [%s]\n", Median(only),
              Rounds(only, "%.3f").c_str());
  std::printf("  checkpoint bytes / restore only:         %8.1f MB/s   [%s]\n", Median(ckpt_mbps),
              Rounds(ckpt_mbps, "%.0f").c_str());
  std::printf("  bytes read / restore only:               %8.1f MB/s   [%s]\n", Median(read_mbps),
              Rounds(read_mbps, "%.0f").c_str());
  std::printf("sequential read of the files, cold cache:  %8.1f MB/s   [%s]\n", Median(cold_mbps),
              Rounds(cold_mbps, "%.0f").c_str());
  std::printf("  the same again, from the page cache:     %8.1f MB/s   [%s]\n", Median(warm_mbps),
              Rounds(warm_mbps, "%.0f").c_str());
  std::printf("  from the page cache into new memory:     %8.1f MB/s   [%s]\n",
              Median(fresh_mbps), Rounds(fresh_mbps, "%.0f").c_str());
  std::printf("restore ratio (checkpoint bytes / restore only, over the cold read): %.2f x [%s]\n",
              Median(ratios_only), Rounds(ratios_only, "%.2f").c_str());
  std::printf("  the same with the whole start (no subtraction):                   %.2f x [%s]\n",
              Median(ratios_total), Rounds(ratios_total, "%.2f").c_str());
  std::printf("  bytes read / restore only, over the cold read:                    %.2f x [%s]\n",
              Median(ratios_read), Rounds(ratios_read, "%.2f").c_str());
  std::printf("  one cold + %.0f page-cache reads of the files / restore only:        %.2f x [%s]\n",
              static_cast<double>(server_bytes) / bytes, Median(modelled),
              Rounds(modelled, "%.2f").c_str());
  std::printf("(section: %s)\n", OthersSince(section_start).c_str());
  std::fflush(stdout);
  CheckpointResult result;
  result.write_ratio = Median(ratios);
  result.restore_ratio = Median(ratios_only);
  result.restore_total_ratio = Median(ratios_total);
  result.restore_read_ratio = Median(ratios_read);
  result.dropped = all_dropped;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Section "steps": step time with and without periodic checkpoints.

struct StepFigures {
  std::vector<double> off_ms, on_ms;      // Every measured step.
  std::vector<double> off_p99, on_p99;    // Per block.
  std::vector<double> checkpoint_s;       // Every checkpoint taken in the "on" blocks.
  double off_s = 0, on_s = 0;             // Wall time of each condition's blocks.
  uint64_t off_faults = 0, on_faults = 0;  // Both servers' page faults in those blocks.
};

// Takes a checkpoint (Coordinator.Checkpoint) every second until stopped: one second from the end
// of one to the start of the next, as the coordinator's --checkpoint_interval_s loop does.
class PeriodicCheckpoints {
 public:
  explicit PeriodicCheckpoints(LocalCluster& cluster) : thread_([this, &cluster] {
    while (!stop_) {
      const absl::Time start = absl::Now();
      TakeCheckpoint(cluster);
      seconds_.push_back(absl::ToDoubleSeconds(absl::Now() - start));
      const absl::Time next = absl::Now() + absl::Seconds(1);
      while (!stop_ && absl::Now() < next) absl::SleepFor(absl::Milliseconds(5));
    }
  }) {}
  // Waits for a checkpoint in progress, so that none overlaps what comes next.
  std::vector<double> Stop() {
    stop_ = true;
    thread_.join();
    return seconds_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<double> seconds_;  // The thread's until joined.
  std::thread thread_;
};

StepFigures RunSteps(const std::string& directory) {
  const uint64_t size =
      (uint64_t{static_cast<uint64_t>(absl::GetFlag(FLAGS_step_model_mb))} << 20) / sizeof(float);
  std::unique_ptr<LocalCluster> cluster =
      StartCluster(ClusterOptions({"--checkpoint_dir=" + directory}));
  std::unique_ptr<PsClient> client = Worker(*cluster);
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(DenseSpec("steps", size));
  Check(table.status(), "creating the table");
  std::vector<float> gradient(size), values(size);
  for (uint64_t i = 0; i < size; ++i) gradient[i] = static_cast<float>(i % 97) * 1e-4f;
  const auto step = [&] {
    Check(client->Push(*table, gradient), "push");
    Check(client->Pull(*table, absl::MakeSpan(values)), "pull");
  };
  // Warm-up, with one checkpoint: the servers' first one faults in the memory its copies reuse
  // from then on, and the steady state is what a long run sees.
  TakeCheckpoint(*cluster);
  for (int i = 0; i < 10; ++i) step();

  StepFigures figures;
  const int blocks = std::max(1, absl::GetFlag(FLAGS_step_blocks));
  const int block_steps = std::max(1, absl::GetFlag(FLAGS_steps) / blocks);
  for (int block = 0; block < 2 * blocks; ++block) {
    // off on on off off on ...: neither condition always runs first or last, so a change in the
    // machine's background load over the minutes of the run weighs on both alike.
    const bool on = (block % 4 == 1) || (block % 4 == 2);
    std::unique_ptr<PeriodicCheckpoints> checkpoints;
    if (on) checkpoints = std::make_unique<PeriodicCheckpoints>(*cluster);
    const uint64_t faults = ServerFaults(*cluster);
    std::vector<double> times;
    const absl::Time start = absl::Now();
    for (int i = 0; i < block_steps; ++i) {
      const absl::Time begin = absl::Now();
      step();
      times.push_back(absl::ToDoubleMilliseconds(absl::Now() - begin));
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const uint64_t block_faults = ServerFaults(*cluster) - faults;
    std::vector<double>& all = on ? figures.on_ms : figures.off_ms;
    all.insert(all.end(), times.begin(), times.end());
    (on ? figures.on_p99 : figures.off_p99).push_back(Percentile(times, 0.99));
    (on ? figures.on_s : figures.off_s) += seconds;
    (on ? figures.on_faults : figures.off_faults) += block_faults;
    if (on) {
      const std::vector<double> taken = checkpoints->Stop();
      figures.checkpoint_s.insert(figures.checkpoint_s.end(), taken.begin(), taken.end());
    }
  }
  return figures;
}

void PrintSteps(const char* label, const std::vector<double>& ms, double seconds,
                const std::vector<double>& block_p99, uint64_t faults) {
  std::printf("%-22s %5zu steps in %5.1f s: p50 %6.1f ms  p90 %6.1f ms  p99 %6.1f ms  max %6.1f "
              "ms; p99 per block [%s]; servers' page faults %llu\n",
              label, ms.size(), seconds, Percentile(ms, 0.5), Percentile(ms, 0.9),
              Percentile(ms, 0.99), Percentile(ms, 1.0), Rounds(block_p99, "%.0f").c_str(),
              static_cast<unsigned long long>(faults));
}

struct StepResult {
  double p99_ratio = 0;
  double p50_ratio = 0;
  int checkpoints = 0;
};

StepResult RunStepsSection(const std::string& root) {
  const CpuClock section_start = ReadCpuClock();
  const int megabytes = absl::GetFlag(FLAGS_step_model_mb);
  const int blocks = std::max(1, absl::GetFlag(FLAGS_step_blocks));
  std::printf("\n== Step time with and without a checkpoint every second: one worker (this "
              "process), ASP, one step = push a gradient of the whole %d MiB dense SGD table, "
              "then pull the table; %u servers, %u shards, R = %u. %d blocks of %d steps per "
              "condition, alternating (off on on off ...); in \"on\" blocks a thread here calls "
              "Coordinator.Checkpoint, waits 1 s after each, as --checkpoint_interval_s=1 does\n",
              megabytes, kServers, kShards, kReplicas, blocks,
              std::max(1, absl::GetFlag(FLAGS_steps) / blocks));
  std::fflush(stdout);
  const StepFigures f = RunSteps(root + "/steps");
  PrintSteps("checkpoints off:", f.off_ms, f.off_s, f.off_p99, f.off_faults);
  PrintSteps("checkpoint every 1 s:", f.on_ms, f.on_s, f.on_p99, f.on_faults);
  double busy = 0;
  for (double seconds : f.checkpoint_s) busy += seconds;
  std::printf("checkpoints taken in the \"on\" blocks: %zu, median %.3f s each (%.0f MB), %.0f%% "
              "of those blocks' time\n",
              f.checkpoint_s.size(), Median(f.checkpoint_s),
              static_cast<double>(uint64_t{static_cast<uint64_t>(megabytes)} << 20) / 1e6,
              100.0 * busy / f.on_s);
  StepResult result;
  result.p99_ratio = Percentile(f.on_ms, 0.99) / Percentile(f.off_ms, 0.99);
  result.p50_ratio = Percentile(f.on_ms, 0.5) / Percentile(f.off_ms, 0.5);
  result.checkpoints = static_cast<int>(f.checkpoint_s.size());
  std::printf("p99 ratio (on / off): %.2f x; p50 ratio %.2f x\n", result.p99_ratio,
              result.p50_ratio);
  std::printf("(section: %s)\n", OthersSince(section_start).c_str());
  std::fflush(stdout);
  return result;
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::InitLogging("bench", "warn").IgnoreError();
  const int rounds = absl::GetFlag(FLAGS_rounds);
  if (rounds < 1) ps::bench::Fail("--rounds must be >= 1");
  std::string root = absl::GetFlag(FLAGS_checkpoint_root);
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/checkpoint_bench.XXXXXX");
    if (mkdtemp(root.data()) == nullptr) ps::bench::Fail("cannot create a directory for " + root);
  } else {
    std::filesystem::create_directories(root);
  }
  std::printf("checkpoint_bench: %ld CPUs, load average %s (1, 5, 15 min) at the start\n",
              sysconf(_SC_NPROCESSORS_ONLN), ps::bench::LoadAverage().c_str());
  std::fflush(stdout);
  std::optional<ps::bench::CheckpointResult> checkpoint;
  std::optional<ps::bench::StepResult> steps;
  for (absl::string_view section : absl::StrSplit(absl::GetFlag(FLAGS_sections), ',')) {
    if (section == "checkpoint") {
      checkpoint = ps::bench::RunCheckpoint(root, rounds);
    } else if (section == "steps") {
      steps = ps::bench::RunStepsSection(root);
    } else {
      ps::bench::Fail(absl::StrCat("unknown section '", section, "' (checkpoint, steps)"));
    }
  }
  const auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
  std::printf("\n== Summary (targets of issue 12); load average %s at the end\n",
              ps::bench::LoadAverage().c_str());
  if (checkpoint.has_value()) {
    std::printf("checkpoint write, %d MiB: %.2f x sequential write         (target >= 0.70 x: %s)\n",
                absl::GetFlag(FLAGS_model_mb), checkpoint->write_ratio,
                verdict(checkpoint->write_ratio >= 0.7));
    std::printf("restore, %d MiB:          %.2f x sequential %s read (target >= 0.70 x: %s)\n",
                absl::GetFlag(FLAGS_model_mb), checkpoint->restore_ratio,
                checkpoint->dropped ? "cold" : "cached", verdict(checkpoint->restore_ratio >= 0.7));
    std::printf("  (restore with the start included: %.2f x; counting all bytes read: %.2f x)\n",
                checkpoint->restore_total_ratio, checkpoint->restore_read_ratio);
  }
  if (steps.has_value()) {
    std::printf("step p99, checkpoint every 1 s vs none: %.2f x           (target <= 1.50 x: %s%s)\n",
                steps->p99_ratio, verdict(steps->p99_ratio <= 1.5),
                steps->checkpoints >= 3 ? "" : "; fewer than 3 checkpoints: does not count");
  }
  std::fflush(stdout);
  if (!absl::GetFlag(FLAGS_keep_files)) std::filesystem::remove_all(root);
  return 0;
}
