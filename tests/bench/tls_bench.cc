// What mutual TLS costs on the data plane: two localhost clusters in one run, one plaintext and
// one with every channel on mutual TLS (certificates from deploy/make_certs.sh), each 1 server
// and this process as the worker; dense f32 pushes and pulls of --megabytes (default 16) to each,
// in alternating rounds so that both see the same machine. Prints GB/s per mode, the TLS /
// plaintext ratios, and the cipher suite the server negotiates (asked with openssl s_client,
// which offers OpenSSL's default TLS 1.3 suites as gRPC's client does).
// Usage: tls_bench [--megabytes=16] [--rounds=5] [--calls=8]
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "tests/bench/bench_cluster.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/test_certs.h"

ABSL_FLAG(int, megabytes, 16, "Size of each dense push and pull.");
ABSL_FLAG(int, rounds, 5, "Alternating rounds (plaintext, then TLS).");
ABSL_FLAG(int, calls, 8, "Pushes and pulls per mode per round.");
ABSL_FLAG(int, plaintext_connections, 0,
          "PsClientOptions.connections_per_server in plaintext (0: the client's default).");
ABSL_FLAG(int, tls_connections, 0,
          "PsClientOptions.connections_per_server with mutual TLS (0: the client's default).");

namespace ps::testing {
namespace {

struct Mode {
  std::string name;
  std::unique_ptr<LocalCluster> cluster;
  std::unique_ptr<PsClient> client;
  v1::TableInfo table;
  absl::Duration push_time;
  absl::Duration pull_time;
};

std::string Cipher(const std::string& address, const std::string& certs) {
  const std::string command =
      absl::StrCat("openssl s_client -connect ", address, " -alpn h2 -brief -cert ", certs,
                   "/admin.pem -key ", certs, "/admin.key -CAfile ", certs,
                   "/ca.pem </dev/null 2>&1 | grep -aE 'Protocol version|Ciphersuite'");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "unknown (popen failed)";
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  pclose(pipe);
  return out.empty() ? "unknown (openssl s_client said nothing)" : out;
}

int Run() {
  const size_t floats = static_cast<size_t>(absl::GetFlag(FLAGS_megabytes)) << 18;
  const std::string certs = MakeTempDir("tls-bench-certs");
  if (absl::Status made = MakeCertificates(certs); !made.ok()) {
    std::fprintf(stderr, "tls_bench: %s\n", made.ToString().c_str());
    return 1;
  }
  std::vector<Mode> modes(2);
  modes[0].name = "plaintext";
  modes[1].name = "mutual TLS";
  for (int i = 0; i < 2; ++i) {
    LocalClusterOptions options;
    options.servers = 1;
    options.workers = 0;
    options.num_shards = 4;
    options.replication_factor = 1;
    if (i == 1) {
      options.coordinator_args = TlsFlags(certs, "coordinator");
      options.server_args = TlsFlags(certs, "server");
      absl::StatusOr<std::shared_ptr<TransportSecurity>> chief = TlsAs(certs, "chief");
      if (!chief.ok()) {
        std::fprintf(stderr, "tls_bench: %s\n", chief.status().ToString().c_str());
        return 1;
      }
      options.security = *chief;
    }
    modes[i].cluster = StartClusterOrExit(options, "tls_bench");
    PsClientOptions client_options;
    client_options.coordinator_address = modes[i].cluster->coordinator_address();
    client_options.security = options.security;
    client_options.connections_per_server =
        absl::GetFlag(i == 0 ? FLAGS_plaintext_connections : FLAGS_tls_connections);
    absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
    if (!client.ok()) {
      std::fprintf(stderr, "tls_bench: %s\n", client.status().ToString().c_str());
      return 1;
    }
    modes[i].client = *std::move(client);
    absl::StatusOr<v1::TableInfo> table =
        modes[i].client->CreateTable(ZeroAspDenseSpec("dense", floats));
    if (!table.ok()) {
      std::fprintf(stderr, "tls_bench: %s\n", table.status().ToString().c_str());
      return 1;
    }
    modes[i].table = *table;
  }
  std::vector<float> gradient(floats, 0.0f);
  std::vector<float> values(floats);
  // One untimed call of each kind per mode: connections, handshakes and first-touch memory.
  for (Mode& mode : modes) {
    if (!mode.client->Push(mode.table, gradient).ok() ||
        !mode.client->Pull(mode.table, absl::MakeSpan(values)).ok()) {
      std::fprintf(stderr, "tls_bench: warm-up failed (%s)\n", mode.name.c_str());
      return 1;
    }
  }
  const int calls = absl::GetFlag(FLAGS_calls);
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    for (Mode& mode : modes) {
      absl::Time start = absl::Now();
      for (int i = 0; i < calls; ++i) {
        if (!mode.client->Push(mode.table, gradient).ok()) return 1;
      }
      mode.push_time += absl::Now() - start;
      start = absl::Now();
      for (int i = 0; i < calls; ++i) {
        if (!mode.client->Pull(mode.table, absl::MakeSpan(values)).ok()) return 1;
      }
      mode.pull_time += absl::Now() - start;
    }
  }
  const double bytes =
      static_cast<double>(floats) * sizeof(float) * calls * absl::GetFlag(FLAGS_rounds);
  const auto gbps = [&](absl::Duration time) { return bytes / absl::ToDoubleSeconds(time) / 1e9; };
  std::printf("dense f32 %d MB, 1 server on loopback, %d rounds x %d calls per mode\n",
              absl::GetFlag(FLAGS_megabytes), absl::GetFlag(FLAGS_rounds), calls);
  std::printf("  %-11s  push GB/s  pull GB/s\n", "mode");
  for (const Mode& mode : modes) {
    std::printf("  %-11s  %9.2f  %9.2f\n", mode.name.c_str(), gbps(mode.push_time),
                gbps(mode.pull_time));
  }
  std::printf(
      "  TLS/plaintext: push %.2fx, pull %.2fx\n",
      absl::ToDoubleSeconds(modes[0].push_time) / absl::ToDoubleSeconds(modes[1].push_time),
      absl::ToDoubleSeconds(modes[0].pull_time) / absl::ToDoubleSeconds(modes[1].pull_time));
  std::printf("negotiated with the TLS server:\n%s",
              Cipher(modes[1].cluster->server_address(0), certs).c_str());
  return 0;
}

}  // namespace
}  // namespace ps::testing

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!ps::InitLogging("bench", "warn").ok()) return 2;
  return ps::testing::Run();
}
