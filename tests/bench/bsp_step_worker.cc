// bsp_step_worker: one worker process of scaling_bench's BSP curve. It joins the cluster as a
// worker, waits until --workers workers are alive (the start barrier every BSP job needs: all of
// them count from clock 0), then runs --steps steps of pull -> a constant gradient (no compute,
// so that the step time is the parameter server's and the barrier's) -> push -> advance clock on
// an existing dense BSP table, and writes the mean wall time of the steps after the first
// --warmup_steps, in milliseconds, as one line to --result_file.
//
// ps_worker's modes all train a real model (their step time is mostly compute), hence this
// helper; a process per worker rather than a thread per PsClient in the benchmark itself, so
// that every worker has its own gRPC connections and heap, as in a real job.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(std::string, coordinator, "", "host:port of the coordinator.");
ABSL_FLAG(std::string, table, "", "Name of the dense BSP table (created by the benchmark).");
ABSL_FLAG(int, workers, 1, "Workers of the job: the start barrier waits for this many.");
ABSL_FLAG(int, steps, 20, "Steps to time.");
ABSL_FLAG(int, warmup_steps, 2, "Steps run first and not timed.");
ABSL_FLAG(std::string, result_file, "", "Where the mean step time (ms) goes.");

namespace ps::bench {
namespace {

struct StepOptions {
  std::string coordinator;
  std::string table;
  int workers = 1;
  int steps = 0;
  int warmup_steps = 0;
  std::string result_file;
};

absl::Status Run(const StepOptions& options) {
  PsClientOptions client_options;
  client_options.coordinator_address = options.coordinator;
  client_options.wait_for_workers = options.workers;
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::TableInfo> table = (*client)->LookupTable(options.table);
  if (!table.ok()) return table.status();
  std::vector<float> values(table->spec().dense_size());
  const std::vector<float> gradient(values.size(), 1e-3f);
  absl::Duration timed;
  for (int step = 0; step < options.warmup_steps + options.steps; ++step) {
    const absl::Time start = absl::Now();
    if (absl::Status s = (*client)->Pull(*table, absl::MakeSpan(values)); !s.ok()) return s;
    if (absl::Status s = (*client)->Push(*table, gradient); !s.ok()) return s;
    (*client)->AdvanceClock();
    if (step >= options.warmup_steps) timed += absl::Now() - start;
  }
  std::ofstream out(options.result_file);
  out << absl::ToDoubleMilliseconds(timed) / options.steps << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", options.result_file));
  return absl::OkStatus();
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!ps::InitLogging("bsp_step_worker", "warn").ok()) return 2;
  ps::bench::StepOptions options;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  options.table = absl::GetFlag(FLAGS_table);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.steps = absl::GetFlag(FLAGS_steps);
  options.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  options.result_file = absl::GetFlag(FLAGS_result_file);
  if (options.coordinator.empty() || options.table.empty() || options.result_file.empty() ||
      options.steps < 1 || options.warmup_steps < 0) {
    std::fprintf(stderr,
                 "bsp_step_worker: --coordinator, --table, --result_file and --steps >= 1 "
                 "are required\n");
    return 2;
  }
  if (absl::Status status = ps::bench::Run(options); !status.ok()) {
    std::fprintf(stderr, "bsp_step_worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
