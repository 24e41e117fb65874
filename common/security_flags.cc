#include "common/security_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this member (its roles as URI SANs urn:paramserver:role:NAME). "
          "With --tls_key and --tls_ca, every channel and port uses mutual TLS; SIGHUP re-reads "
          "the three files.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM certificate(s) of the CA that signs every member's certificate.");
ABSL_FLAG(std::string, token_file, "",
          "Plaintext clusters only: a file holding this member's token, sent with every call.");
ABSL_FLAG(std::string, role_tokens_file, "",
          "Plaintext clusters only, for daemons that serve: lines `ROLE TOKEN` naming the tokens "
          "callers may present and their roles (coordinator, server, worker, admin). Without it "
          "and without TLS every caller may call every rpc.");
ABSL_FLAG(bool, insecure, false,
          "Allow listening in plaintext on an address other than loopback (anyone who reaches "
          "the port can then join the cluster and read or change the model).");

namespace ps {

void ShowSharedFlagsInHelp() {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "_main.") || absl::EndsWith(file, "security_flags.cc") ||
           absl::EndsWith(file, "metrics_flags.cc");
  };
  absl::SetFlagsUsageConfig(config);
}

SecurityOptions SecurityOptionsFromFlags() {
  SecurityOptions options;
  options.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.key_file = absl::GetFlag(FLAGS_tls_key);
  options.ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.role_tokens_file = absl::GetFlag(FLAGS_role_tokens_file);
  options.insecure = absl::GetFlag(FLAGS_insecure);
  return options;
}

absl::StatusOr<std::shared_ptr<TransportSecurity>> TransportSecurityFromFlags() {
  return TransportSecurity::Create(SecurityOptionsFromFlags());
}

std::function<void()> ReloadOnHangup(std::shared_ptr<TransportSecurity> security) {
  return [security = std::move(security)] {
    if (!security->tls()) {
      spdlog::info("SIGHUP: plaintext, no certificates to reload");
      return;
    }
    if (absl::Status reloaded = security->Reload(); !reloaded.ok()) {
      spdlog::error("SIGHUP: keeping the current certificates: {}", reloaded.ToString());
      return;
    }
    spdlog::info("SIGHUP: certificates reloaded: {}", security->Describe());
  };
}

}  // namespace ps
