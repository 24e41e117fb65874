// psctl's commands: what each does with the options main() parsed from its flags, and the
// one-line help of each. The commands print results to stdout and errors to stderr, and return
// an exit code (exit_codes.h). One thread only.
#ifndef PS_TOOLS_PSCTL_PSCTL_COMMANDS_H_
#define PS_TOOLS_PSCTL_PSCTL_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/transport_security.h"
#include "tools/psctl/curve_plot.h"
#include "tools/psctl/drain_command.h"

namespace ps::psctl {

struct PsctlOptions {
  // The command, e.g. "drain", and what follows it, e.g. {"3"}.
  std::string command;
  std::vector<std::string> operands;
  // Every coordinator, comma-separated; psctl talks to the one that leads.
  std::string coordinators = "127.0.0.1:7070";
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
  // How long to wait for the coordinator, per call.
  absl::Duration timeout = absl::Seconds(5);
  // Print JSON instead of text (commands that show something).
  bool json = false;
  absl::Duration checkpoint_timeout = absl::Seconds(600);
  DrainOptions drain;
  // watch: time between refreshes, and how many (0: until interrupted).
  absl::Duration watch_interval = absl::Seconds(2);
  int watch_count = 0;
  // Whether stdout is a terminal: watch then clears the screen between refreshes.
  bool terminal = false;
  // metrics: --http=[HOST:]PORT (metrics_scrape.h).
  std::string http;
  // plot: the PNG to write, what to draw, where to put gnuplot's input, and which gnuplot.
  std::string plot_output;
  PlotOptions plot;
  std::string temp_dir = "/tmp";
  std::string gnuplot = "gnuplot";
};

// Runs `options.command`. Errors in the options (an unknown command, missing or extra operands,
// --json where it means nothing) print what is wrong and the commands' help to stderr and
// return kExitUsage.
int RunPsctl(const PsctlOptions& options);

// One line per command, "  NAME OPERANDS  what it does", for --help and usage errors.
std::string CommandsHelp();

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_PSCTL_COMMANDS_H_
