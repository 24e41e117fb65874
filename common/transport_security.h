// How a daemon's gRPC channels and listening ports are secured, and who a caller is.
//
// Three modes (README "Security"):
//   - mutual TLS: certificate, key and CA from files. Every listening port requires a client
//     certificate signed by the CA; every channel presents this member's certificate and checks
//     that the peer's is signed by the CA, names the host it dialled (DNS or IP SAN) and the
//     server or coordinator role. A peer's roles are URI SANs `urn:paramserver:role:NAME`.
//     Reload() (on SIGHUP) re-reads the three files without dropping a connection: it checks
//     them first and keeps the old ones if the new ones are unusable.
//   - tokens: plaintext, each caller sends its token in `ps-token` metadata; a daemon given a
//     role tokens file (lines `ROLE TOKEN`) maps it to roles. Tokens travel in the clear: they
//     keep mistakes and casual callers out on a trusted network, not eavesdroppers.
//   - open: plaintext, every caller has every role (the loopback default of demos and tests).
// Listening on a non-loopback address in plaintext is refused unless `insecure` is set.
// Thread-safe; shared by every channel and port of a process.
#ifndef PS_COMMON_TRANSPORT_SECURITY_H_
#define PS_COMMON_TRANSPORT_SECURITY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/auth.pb.h"

namespace ps {

// A set of v1::PeerRole values, one bit per role.
class RoleSet {
 public:
  RoleSet() = default;
  static RoleSet All();
  void Add(v1::PeerRole role) { bits_ |= Bit(role); }
  bool Contains(v1::PeerRole role) const { return (bits_ & Bit(role)) != 0; }
  bool Intersects(RoleSet other) const { return (bits_ & other.bits_) != 0; }
  bool empty() const { return bits_ == 0; }
  // "server,worker"; "none" when empty.
  std::string ToString() const;
  bool operator==(const RoleSet& other) const { return bits_ == other.bits_; }

 private:
  static uint32_t Bit(v1::PeerRole role) { return uint32_t{1} << static_cast<int>(role); }
  uint32_t bits_ = 0;
};

// "coordinator" for PEER_ROLE_COORDINATOR, ...
std::string RoleName(v1::PeerRole role);
// The inverse; InvalidArgument for anything else.
absl::StatusOr<v1::PeerRole> ParseRole(absl::string_view name);
// The URI SAN naming `role` in a certificate.
std::string RoleUri(v1::PeerRole role);

// What a certificate says, as checked by InspectCertificate.
struct CertificateFacts {
  std::string subject;
  RoleSet roles;
  absl::Time not_before;
  absl::Time not_after;
};

// Parses the first certificate of a PEM file's contents and reads its subject, validity and roles.
absl::StatusOr<CertificateFacts> InspectCertificate(absl::string_view pem);

struct SecurityOptions {
  // PEM files; all three or none. With them, every channel and port uses mutual TLS.
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  // Plaintext only: this member's token, sent with every call (a file holding one line).
  std::string token_file;
  // Plaintext only, for daemons that serve: lines `ROLE TOKEN` ('#' starts a comment). With it,
  // callers are identified by token; without it (and without TLS) every caller has every role.
  std::string role_tokens_file;
  // Allows plaintext on a non-loopback address.
  bool insecure = false;
};

class TransportSecurity {
 public:
  // Checks the options and the files they name: the three TLS files together, readable, the
  // certificate valid now and signed by the CA, the key its own; tokens only without TLS; a
  // role tokens file with known roles and no token listed twice. InvalidArgument or
  // FailedPrecondition with the file and the reason otherwise.
  static absl::StatusOr<std::shared_ptr<TransportSecurity>> Create(const SecurityOptions& options);
  // Open mode: plaintext, every caller has every role. What tests and tools use by default.
  static std::shared_ptr<const TransportSecurity> Plaintext();

  ~TransportSecurity();
  TransportSecurity(const TransportSecurity&) = delete;
  TransportSecurity& operator=(const TransportSecurity&) = delete;

  bool tls() const { return tls_; }
  // One line for the start-up log: mode, certificate subject and roles, expiry.
  std::string Describe() const;

  // FailedPrecondition when this would listen in plaintext on an address other than loopback
  // and `insecure` is not set; with `insecure`, OK and a loud warning in the log.
  absl::Status CheckListenAddress(const std::string& bind_host) const;

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // A channel to `address` ("host:port", a server or coordinator) with `arguments`.
  std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                             const grpc::ChannelArguments& arguments) const;

  // The caller's roles: from its certificate (TLS), from its token (role tokens), every role
  // (open mode). Unauthenticated (with the reason) when it has none.
  absl::StatusOr<RoleSet> PeerRoles(const grpc::ServerContextBase& context) const;

  // Re-reads the TLS files (SIGHUP). The new files are checked as Create checks them and take
  // effect within about a second; on any error the old ones stay and the error is returned.
  // FailedPrecondition without TLS.
  absl::Status Reload();

 private:
  TransportSecurity() = default;

  // Copies the configured files, once checked, to where gRPC's file watcher reads them.
  absl::Status InstallFiles();

  SecurityOptions options_;
  bool tls_ = false;
  std::string token_;
  std::map<std::string, RoleSet> role_tokens_;
  // Memory files (memfd) holding the certificate, key and CA gRPC watches, read through
  // /proc/self/fd: the configured files are copied there only once checked, so an operator's
  // half-written certificate is never loaded, and nothing is left on disk. -1 until installed.
  int watched_fds_[3] = {-1, -1, -1};
  // One file watcher and one verifier for every channel and port of the process.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
  std::shared_ptr<grpc::experimental::CertificateVerifier> verifier_;
  mutable absl::Mutex mu_;
  CertificateFacts own_certificate_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_COMMON_TRANSPORT_SECURITY_H_
