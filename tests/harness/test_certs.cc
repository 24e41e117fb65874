#include "tests/harness/test_certs.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {

absl::Status MakeCertificates(const std::string& dir, const std::vector<std::string>& args) {
  std::string command =
      absl::StrCat("bash '", RunfilePath("deploy/make_certs.sh"), "' '", dir, "'");
  for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
  absl::StrAppend(&command, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen failed");
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(absl::StrCat("make_certs.sh ", absl::StrJoin(args, " "), " failed (",
                                            status, "): ", output));
  }
  return absl::OkStatus();
}

std::vector<std::string> TlsFlags(const std::string& dir, const std::string& name) {
  return {absl::StrCat("--tls_cert=", dir, "/", name, ".pem"),
          absl::StrCat("--tls_key=", dir, "/", name, ".key"),
          absl::StrCat("--tls_ca=", dir, "/ca.pem")};
}

SecurityOptions TlsOptions(const std::string& dir, const std::string& name) {
  SecurityOptions options;
  options.cert_file = absl::StrCat(dir, "/", name, ".pem");
  options.key_file = absl::StrCat(dir, "/", name, ".key");
  options.ca_file = absl::StrCat(dir, "/ca.pem");
  return options;
}

absl::StatusOr<std::shared_ptr<TransportSecurity>> TlsAs(const std::string& dir,
                                                         const std::string& name) {
  return TransportSecurity::Create(TlsOptions(dir, name));
}

}  // namespace ps::testing
