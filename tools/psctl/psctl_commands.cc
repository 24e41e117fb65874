#include "tools/psctl/psctl_commands.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/psctl/cluster_tables.h"
#include "tools/psctl/coordinator_client.h"
#include "tools/psctl/exit_codes.h"
#include "tools/psctl/gnuplot_run.h"
#include "tools/psctl/metrics_scrape.h"
#include "tools/psctl/status_summary.h"
#include "tools/psctl/training_curves.h"

namespace ps::psctl {
namespace {

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

absl::StatusOr<CoordinatorClient> Connect(const PsctlOptions& options) {
  return CoordinatorClient::Connect(options.coordinators, options.timeout, options.security);
}

// The cluster's status from the coordinator that leads.
absl::StatusOr<v1::ClusterStatus> FetchStatus(const PsctlOptions& options) {
  absl::StatusOr<CoordinatorClient> coordinator = Connect(options);
  if (!coordinator.ok()) return coordinator.status();
  return coordinator->GetStatus();
}

int StatusError(const PsctlOptions& options, const absl::Status& status) {
  return CoordinatorError(options.coordinators, "reading the cluster status", status);
}

// The table, or a word that there is nothing in it (an empty table is only its headings).
std::string TableText(const Table& table) {
  return table.empty() ? absl::StrCat(table.ToText(), "(none)\n") : table.ToText();
}

// What `psctl status` prints: the summary, then every member.
std::string StatusText(const v1::ClusterStatus& status) {
  return absl::StrCat(StatusSummary(status, absl::Now()), "\n", TableText(MembersTable(status)));
}

// status, members, shards, tables, workers: one view of the cluster's status, as text or JSON.
template <typename View>
int ShowView(const PsctlOptions& options, View view) {
  const absl::StatusOr<v1::ClusterStatus> status = FetchStatus(options);
  if (!status.ok()) return StatusError(options, status.status());
  Print(view(*status));
  return kExitOk;
}

// A view that is a table.
template <Table (*kTable)(const v1::ClusterStatus&)>
int ShowTable(const PsctlOptions& options) {
  return ShowView(options, [&options](const v1::ClusterStatus& status) {
    const Table table = kTable(status);
    return options.json ? absl::StrCat(table.ToJson(), "\n") : TableText(table);
  });
}

int RunStatus(const PsctlOptions& options) {
  return ShowView(options, [&options](const v1::ClusterStatus& status) {
    return options.json ? absl::StrCat(MessageToJson(status), "\n") : StatusText(status);
  });
}

int RunWatch(const PsctlOptions& options) {
  std::optional<CoordinatorClient> coordinator;
  int exit_code = kExitOk;
  for (int refresh = 0; options.watch_count == 0 || refresh < options.watch_count; ++refresh) {
    if (refresh > 0) absl::SleepFor(options.watch_interval);  // The refresh period itself.
    absl::StatusOr<v1::ClusterStatus> status = absl::UnavailableError("not connected");
    if (!coordinator.has_value()) {
      absl::StatusOr<CoordinatorClient> connected = Connect(options);
      if (connected.ok()) {
        coordinator.emplace(*std::move(connected));
      } else {
        status = connected.status();
      }
    }
    if (coordinator.has_value()) status = coordinator->GetStatus();
    // A wrong address shows at once; later the coordinator may be failing over: show, retry.
    if (!status.ok() && refresh == 0) return StatusError(options, status.status());
    std::string screen =
        absl::StrFormat("psctl watch: %s every %s, %s (Ctrl-C stops)\n\n",
                        coordinator.has_value() ? coordinator->address() : options.coordinators,
                        absl::FormatDuration(options.watch_interval),
                        absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()));
    if (status.ok()) {
      absl::StrAppend(&screen, StatusText(*status), "\n", TableText(WorkersTable(*status)));
      exit_code = kExitOk;
    } else {
      absl::StrAppend(&screen, "cannot reach the coordinator at ", options.coordinators, ": ",
                      status.status().message(), "; trying again\n");
      coordinator.reset();  // Another coordinator may lead by the next refresh.
      exit_code = kExitUsage;
    }
    // On a terminal the view replaces the last one; piped, refreshes follow one another.
    Print(options.terminal ? absl::StrCat("\033[H\033[2J", screen) : absl::StrCat(screen, "\n"));
  }
  return exit_code;
}

int RunCheckpoint(const PsctlOptions& options) {
  absl::StatusOr<CoordinatorClient> coordinator = Connect(options);
  if (!coordinator.ok()) return StatusError(options, coordinator.status());
  const absl::StatusOr<v1::CheckpointNowResponse> response =
      coordinator->Checkpoint(options.checkpoint_timeout);
  if (!response.ok()) {
    return CoordinatorError(options.coordinators, "checkpoint", response.status());
  }
  Print(options.json
            ? absl::StrCat(MessageToJson(*response), "\n")
            : absl::StrFormat("checkpoint %d complete: %d shard files, %.1f MB in %.3f s\n%s\n",
                              response->checkpoint_id(), response->shards_size(),
                              response->total_bytes() / 1e6, response->seconds(),
                              response->directory()));
  return kExitOk;
}

int RunDrainOrUndrain(const PsctlOptions& options) {
  absl::StatusOr<CoordinatorClient> coordinator = Connect(options);
  if (!coordinator.ok()) return StatusError(options, coordinator.status());
  return RunDrain(*coordinator, options.coordinators, options.operands[0],
                  options.command == "undrain", options.drain);
}

int RunMetrics(const PsctlOptions& options) {
  std::string coordinator_address;
  std::string http = options.http;
  if (!NamesHost(http)) {
    absl::StatusOr<CoordinatorClient> coordinator = Connect(options);
    if (!coordinator.ok()) return StatusError(options, coordinator.status());
    coordinator_address = coordinator->address();
    if (http.empty()) {
      // The port the leading coordinator says it serves HTTP on.
      absl::StatusOr<v1::ClusterStatus> status = coordinator->GetStatus();
      if (!status.ok()) return StatusError(options, status.status());
      if (status->http_port() == 0) {
        return Fail(kExitUsage,
                    absl::StrCat("the coordinator at ", coordinator_address,
                                 " serves no metrics: start it with --http_port, or give "
                                 "--http=[HOST:]PORT"));
      }
      http = absl::StrCat(status->http_port());
    }
  }
  const absl::StatusOr<std::string> address = MetricsAddress(http, coordinator_address);
  if (!address.ok()) return Fail(kExitUsage, address.status().message());
  const absl::StatusOr<std::string> exposition = FetchMetrics(*address, options.timeout);
  if (!exposition.ok()) {
    return Fail(absl::IsUnavailable(exposition.status()) ? kExitUsage : kExitFailed,
                exposition.status().message());
  }
  Print(FilterMetrics(*exposition, options.operands.empty() ? "" : options.operands[0]));
  return kExitOk;
}

int RunPlot(const PsctlOptions& options) {
  if (options.plot_output.empty()) {
    return Fail(kExitUsage, "psctl plot needs -o FILE.png (where to draw)");
  }
  std::vector<TrainingCurve> curves;
  for (const std::string& path : options.operands) {
    absl::StatusOr<TrainingCurve> curve = ReadTrainingCurve(path);
    if (!curve.ok()) return Fail(kExitFailed, curve.status().message());
    curves.push_back(*std::move(curve));
  }
  const absl::StatusOr<Plot> plot = BuildPlot(curves, options.plot);
  if (!plot.ok()) return Fail(kExitFailed, plot.status().message());
  if (absl::Status drawn =
          DrawWithGnuplot(*plot, options.plot_output, options.temp_dir, options.gnuplot);
      !drawn.ok()) {
    return Fail(kExitFailed, drawn.message());
  }
  Print(absl::StrCat("wrote ", options.plot_output, ": loss",
                     plot->accuracy.empty() ? "" : " and accuracy", " of ", curves.size(),
                     curves.size() == 1 ? " curve" : " curves", " by ", plot->x_label, "\n"));
  return kExitOk;
}

int RunHelp(const PsctlOptions&) {
  Print(absl::StrCat("Usage: psctl [flags] COMMAND [OPERANDS]\n", CommandsHelp(),
                     "psctl --help also lists the flags.\n"));
  return kExitOk;
}

struct Command {
  const char* name;
  const char* operands;
  const char* help;
  size_t min_operands;
  size_t max_operands;
  // Whether --json means something to it.
  bool json;
  int (*run)(const PsctlOptions& options);
};

constexpr size_t kAny = ~size_t{0};

// One line of help each: the flags that refine a command are in psctl --help.
const Command kCommands[] = {
    {"status", "", "the cluster at a glance, then every member (--json: ClusterStatus)", 0, 0, true,
     RunStatus},
    {"members", "", "servers and workers: address, state, heartbeat age, known epoch", 0, 0, true,
     ShowTable<MembersTable>},
    {"shards", "", "every shard: primary, backups, learners, health, move in flight", 0, 0, true,
     ShowTable<ShardsTable>},
    {"tables", "", "the catalog: name, id, kind, size, optimizer, consistency", 0, 0, true,
     ShowTable<CatalogTable>},
    {"workers", "", "training per worker: epoch, step, loss, accuracy, speed, straggler", 0, 0,
     true, ShowTable<WorkersTable>},
    {"watch", "", "status and workers every --interval_s until Ctrl-C or --count", 0, 0, false,
     RunWatch},
    {"metrics", "[PREFIX]", "the coordinator's Prometheus metrics (its --http_port, or --http)", 0,
     1, false, RunMetrics},
    {"checkpoint", "", "take a checkpoint now (ps_coordinator --checkpoint_dir)", 0, 0, true,
     RunCheckpoint},
    {"drain", "SERVER", "move every replica off a server (id or host:port); wait till empty", 1, 1,
     false, RunDrainOrUndrain},
    {"undrain", "SERVER", "return a drained server to service", 1, 1, false, RunDrainOrUndrain},
    {"plot", "FILE.jsonl... -o FILE.png", "loss and accuracy of ps_worker --metrics_out files", 1,
     kAny, false, RunPlot},
    {"help", "", "this list", 0, 0, false, RunHelp},
};

const Command* FindCommand(const std::string& name) {
  for (const Command& command : kCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

int UsageError(const std::string& problem) {
  std::fprintf(stderr,
               "psctl: %s\nUsage: psctl [flags] COMMAND [OPERANDS] (psctl --help lists "
               "the flags)\n%s",
               problem.c_str(), CommandsHelp().c_str());
  return kExitUsage;
}

}  // namespace

std::string CommandsHelp() {
  std::vector<std::pair<std::string, std::string>> lines;
  size_t width = 0;
  for (const Command& command : kCommands) {
    std::string synopsis = command.name;
    if (*command.operands != '\0') absl::StrAppend(&synopsis, " ", command.operands);
    width = std::max(width, synopsis.size());
    lines.emplace_back(std::move(synopsis), command.help);
  }
  std::string help = "Commands:\n";
  for (const auto& [synopsis, text] : lines) {
    absl::StrAppendFormat(&help, "  %-*s  %s\n", static_cast<int>(width), synopsis, text);
  }
  return help;
}

int RunPsctl(const PsctlOptions& options) {
  if (options.command.empty()) return UsageError("no command given");
  const Command* command = FindCommand(options.command);
  if (command == nullptr)
    return UsageError(absl::StrCat("unknown command '", options.command, "'"));
  const size_t operands = options.operands.size();
  if (operands < command->min_operands || operands > command->max_operands) {
    return UsageError(absl::StrCat(command->name, " takes ",
                                   *command->operands == '\0' ? "no operands" : command->operands,
                                   ", not ", operands, " operand(s)"));
  }
  if (options.json && !command->json) {
    return UsageError(absl::StrCat(command->name, " has no --json"));
  }
  return command->run(options);
}

}  // namespace ps::psctl
