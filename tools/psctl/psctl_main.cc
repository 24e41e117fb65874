// psctl: operator CLI of a parameter-server cluster. main() only turns flags into PsctlOptions
// and hands them to the commands (psctl_commands.h).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/security_flags.h"
#include "tools/psctl/exit_codes.h"
#include "tools/psctl/psctl_commands.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "host:port of the coordinator, or of every coordinator, comma-separated (psctl talks "
          "to the one that leads).");
ABSL_FLAG(int, timeout_s, 5, "How long to wait for the coordinator, in seconds, per call.");
ABSL_FLAG(bool, json, false,
          "status, members, shards, tables, workers, checkpoint: print JSON (proto field names) "
          "instead of text.");
ABSL_FLAG(int, checkpoint_timeout_s, 600, "How long `psctl checkpoint` waits, in seconds.");
ABSL_FLAG(bool, wait, true,
          "`psctl drain`: wait until the server holds no replica (false: start the drain and "
          "return).");
ABSL_FLAG(int, drain_timeout_s, 1800, "How long `psctl drain` waits, in seconds.");
ABSL_FLAG(double, interval_s, 2, "`psctl watch`: seconds between refreshes.");
ABSL_FLAG(int, count, 0, "`psctl watch`: stop after this many refreshes (0: at Ctrl-C).");
ABSL_FLAG(std::string, http, "",
          "`psctl metrics`: [HOST:]PORT of the coordinator's HTTP endpoint (ps_coordinator "
          "--http_port); a bare PORT means the host of the coordinator that leads.");
ABSL_FLAG(std::string, output, "", "`psctl plot`: the PNG file to write (also -o FILE).");
ABSL_FLAG(std::string, title, "", "`psctl plot`: the title above the panels.");
ABSL_FLAG(std::string, x, "epoch",
          "`psctl plot`: the x axis, epoch or seconds (since each worker started).");

namespace {

// Flags, after the command or before it, with -o FILE as --output=FILE (absl has no short
// flags). Returns the positional arguments, the program's name first.
std::vector<std::string> ParseFlags(int argc, char** argv) {
  std::vector<std::string> rewritten;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "-o" && i + 1 < argc) {
      rewritten.push_back(absl::StrCat("--output=", argv[++i]));
    } else {
      rewritten.push_back(argv[i]);
    }
  }
  std::vector<char*> pointers;
  for (std::string& arg : rewritten) pointers.push_back(arg.data());
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data());
  return {positional.begin(), positional.end()};
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "Operator CLI of a parameter-server cluster.\n"
      "Usage: psctl [--coordinator=HOST:PORT[,HOST:PORT...]] [flags] COMMAND [OPERANDS]\n",
      ps::psctl::CommandsHelp(),
      "Exit codes: 0 done; 1 the command failed; 2 a usage error, or no coordinator reached.\n"
      "With TLS give an admin certificate: --tls_cert, --tls_key, --tls_ca (README "
      "\"Security\")."));
  ps::ShowSharedFlagsInHelp();
  const std::vector<std::string> positional = ParseFlags(argc, argv);

  ps::psctl::PsctlOptions options;
  if (positional.size() >= 2) options.command = positional[1];
  options.operands.assign(positional.begin() + std::min<size_t>(2, positional.size()),
                          positional.end());
  options.coordinators = absl::GetFlag(FLAGS_coordinator);
  options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  options.json = absl::GetFlag(FLAGS_json);
  options.checkpoint_timeout = absl::Seconds(absl::GetFlag(FLAGS_checkpoint_timeout_s));
  options.drain.wait = absl::GetFlag(FLAGS_wait);
  options.drain.timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s));
  options.watch_interval = absl::Seconds(absl::GetFlag(FLAGS_interval_s));
  options.watch_count = absl::GetFlag(FLAGS_count);
  options.terminal = isatty(STDOUT_FILENO) == 1;
  options.http = absl::GetFlag(FLAGS_http);
  options.plot_output = absl::GetFlag(FLAGS_output);
  options.plot.title = absl::GetFlag(FLAGS_title);
  const std::string x_axis = absl::GetFlag(FLAGS_x);
  options.plot.x_axis = x_axis == "seconds" ? ps::psctl::XAxis::kSeconds : ps::psctl::XAxis::kEpoch;
  const char* temp_dir = std::getenv("TMPDIR");
  if (temp_dir != nullptr && *temp_dir != '\0') options.temp_dir = temp_dir;

  if (absl::GetFlag(FLAGS_timeout_s) <= 0 || absl::GetFlag(FLAGS_interval_s) <= 0 ||
      options.watch_count < 0 || (x_axis != "epoch" && x_axis != "seconds")) {
    return ps::psctl::Fail(ps::psctl::kExitUsage,
                           "--timeout_s and --interval_s must be > 0, --count >= 0, --x epoch or "
                           "seconds");
  }
  // TLS: psctl presents an admin certificate (--tls_cert, --tls_key, --tls_ca); tokens: an
  // admin token (--token_file).
  absl::StatusOr<std::shared_ptr<ps::TransportSecurity>> security =
      ps::TransportSecurityFromFlags();
  if (!security.ok()) return ps::psctl::Fail(ps::psctl::kExitUsage, security.status().ToString());
  options.security = *std::move(security);
  return ps::psctl::RunPsctl(options);
}
