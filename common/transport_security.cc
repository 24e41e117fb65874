#include "common/transport_security.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/client_interceptor.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr absl::string_view kRoleUriPrefix = "urn:paramserver:role:";
constexpr char kTokenMetadata[] = "ps-token";
// How often gRPC's file watcher looks at the installed copies; Reload() takes effect within it.
constexpr unsigned kWatchIntervalSeconds = 1;
// Positions of the three files in CheckTlsFiles' contents and in watched_fds_.
constexpr int kCert = 0;
constexpr int kKey = 1;
constexpr int kCa = 2;

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

std::unique_ptr<BIO, BioDeleter> MemoryBio(absl::string_view bytes) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type.
  ERR_clear_error();
  if (code == 0) return "not PEM";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

// Every certificate of a PEM bundle, in order.
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(absl::string_view pem,
                                                      const std::string& path) {
  auto bio = MemoryBio(pem);
  std::vector<X509Ptr> certificates;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(x);
  }
  ERR_clear_error();  // The end of the bundle reads as an error.
  if (certificates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no PEM certificate"));
  }
  return certificates;
}

absl::Time FromAsn1(const ASN1_TIME* time) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&parts));
}

CertificateFacts FactsOf(X509* certificate) {
  CertificateFacts facts;
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(certificate), subject, sizeof(subject));
  facts.subject = subject;
  facts.not_before = FromAsn1(X509_get0_notBefore(certificate));
  facts.not_after = FromAsn1(X509_get0_notAfter(certificate));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
      absl::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                             static_cast<size_t>(ASN1_STRING_length(uri)));
      if (!absl::ConsumePrefix(&text, kRoleUriPrefix)) continue;
      if (absl::StatusOr<v1::PeerRole> role = ParseRole(text); role.ok()) facts.roles.Add(*role);
    }
    GENERAL_NAMES_free(names);
  }
  return facts;
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", time, absl::UTCTimeZone());
}

// The checks Create and Reload make on the three TLS files; the certificate's facts when they
// pass. `contents` receives the files' bytes (cert, key, ca), as checked.
absl::StatusOr<CertificateFacts> CheckTlsFiles(const SecurityOptions& options,
                                               std::vector<std::string>* contents) {
  contents->clear();
  for (const std::string* path : {&options.cert_file, &options.key_file, &options.ca_file}) {
    absl::StatusOr<std::string> bytes = ReadFileToString(*path);
    if (!bytes.ok()) return bytes.status();
    contents->push_back(*std::move(bytes));
  }
  const std::string& cert_pem = (*contents)[0];
  const std::string& key_pem = (*contents)[1];
  const std::string& ca_pem = (*contents)[2];
  absl::StatusOr<std::vector<X509Ptr>> chain = ReadCertificates(cert_pem, options.cert_file);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::vector<X509Ptr>> authorities = ReadCertificates(ca_pem, options.ca_file);
  if (!authorities.ok()) return authorities.status();

  auto key_bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.key_file, " holds no PEM private key: ", OpenSslError()));
  }
  X509* leaf = chain->front().get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("the key in ", options.key_file,
                                                   " is not the key of the certificate in ",
                                                   options.cert_file));
  }

  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  for (const X509Ptr& authority : *authorities) X509_STORE_add_cert(store.get(), authority.get());
  std::unique_ptr<STACK_OF(X509), StackDeleter> intermediates(sk_X509_new_null());
  for (size_t i = 1; i < chain->size(); ++i) {
    X509_up_ref((*chain)[i].get());
    sk_X509_push(intermediates.get(), (*chain)[i].get());
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> verify(X509_STORE_CTX_new());
  X509_STORE_CTX_init(verify.get(), store.get(), leaf, intermediates.get());
  const CertificateFacts facts = FactsOf(leaf);
  if (X509_verify_cert(verify.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(verify.get());
    ERR_clear_error();
    std::string detail = X509_verify_cert_error_string(error);
    if (error == X509_V_ERR_CERT_HAS_EXPIRED) {
      absl::StrAppend(&detail, " on ", FormatUtc(facts.not_after));
    } else if (error == X509_V_ERR_CERT_NOT_YET_VALID) {
      absl::StrAppend(&detail, " (valid from ", FormatUtc(facts.not_before), ")");
    }
    return absl::FailedPreconditionError(
        absl::StrCat("the certificate in ", options.cert_file, " (", facts.subject,
                     ") does not verify against the CA in ", options.ca_file, ": ", detail));
  }
  return facts;
}

// `host:port` or `[v6]:port` -> host.
std::string HostOf(absl::string_view target) {
  if (absl::ConsumePrefix(&target, "[")) {
    return std::string(target.substr(0, target.find(']')));
  }
  const size_t colon = target.rfind(':');
  return std::string(colon == absl::string_view::npos ? target : target.substr(0, colon));
}

bool DnsNameMatches(absl::string_view pattern, absl::string_view host) {
  if (absl::EqualsIgnoreCase(pattern, host)) return true;
  // "*.example.org" covers exactly one leading label.
  if (!absl::ConsumePrefix(&pattern, "*.")) return false;
  const size_t dot = host.find('.');
  return dot != absl::string_view::npos && absl::EqualsIgnoreCase(host.substr(dot + 1), pattern);
}

// Checks, after gRPC verified the chain against the CA, that the peer a channel reached is a
// server or coordinator of this cluster at the host the channel dialled.
class PeerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    *sync_status = Check(*request);
    return true;  // Decided synchronously.
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  static grpc::Status Check(const grpc::experimental::TlsCustomVerificationCheckRequest& request) {
    const std::string host =
        HostOf(absl::string_view(request.target_name().data(), request.target_name().size()));
    bool host_named = false;
    for (const grpc::string_ref& ip : request.ip_names()) {
      host_named = host_named || absl::string_view(ip.data(), ip.size()) == host;
    }
    for (const grpc::string_ref& dns : request.dns_names()) {
      host_named = host_named || DnsNameMatches(absl::string_view(dns.data(), dns.size()), host);
    }
    if (!host_named) {
      return grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("the certificate of ", host, " names neither that host nor that address"));
    }
    RoleSet roles;
    for (const grpc::string_ref& uri : request.uri_names()) {
      absl::string_view text(uri.data(), uri.size());
      if (!absl::ConsumePrefix(&text, kRoleUriPrefix)) continue;
      if (absl::StatusOr<v1::PeerRole> role = ParseRole(text); role.ok()) roles.Add(*role);
    }
    if (!roles.Contains(v1::PEER_ROLE_SERVER) && !roles.Contains(v1::PEER_ROLE_COORDINATOR)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("the certificate of ", host, " has roles ", roles.ToString(),
                                       ", not server or coordinator"));
    }
    return grpc::Status::OK;
  }
};

// Adds this member's token to every call of a channel (token mode).
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* token) : token_(token) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({kTokenMetadata, *token_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const token_;
};

class TokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string* token) : token_(token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(token_);
  }

 private:
  const std::string* const token_;
};

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1" || host == "[::1]";
}

absl::StatusOr<std::map<std::string, RoleSet>> ReadRoleTokens(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::map<std::string, RoleSet> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipWhitespace());
    if (fields.empty()) continue;
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": expected `ROLE TOKEN`"));
    }
    absl::StatusOr<v1::PeerRole> role = ParseRole(fields[0]);
    if (!role.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", role.status().message()));
    }
    if (fields[1].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number,
                       ": a token needs at least 16 characters (e.g. openssl rand -hex 16)"));
    }
    // One token may carry several roles (listed on several lines).
    tokens[std::string(fields[1])].Add(*role);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " lists no token"));
  return tokens;
}

}  // namespace

RoleSet RoleSet::All() {
  RoleSet all;
  for (v1::PeerRole role : {v1::PEER_ROLE_COORDINATOR, v1::PEER_ROLE_SERVER, v1::PEER_ROLE_WORKER,
                            v1::PEER_ROLE_ADMIN}) {
    all.Add(role);
  }
  return all;
}

std::string RoleSet::ToString() const {
  std::vector<std::string> names;
  for (v1::PeerRole role : {v1::PEER_ROLE_COORDINATOR, v1::PEER_ROLE_SERVER, v1::PEER_ROLE_WORKER,
                            v1::PEER_ROLE_ADMIN}) {
    if (Contains(role)) names.push_back(RoleName(role));
  }
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

std::string RoleName(v1::PeerRole role) {
  switch (role) {
    case v1::PEER_ROLE_COORDINATOR:
      return "coordinator";
    case v1::PEER_ROLE_SERVER:
      return "server";
    case v1::PEER_ROLE_WORKER:
      return "worker";
    case v1::PEER_ROLE_ADMIN:
      return "admin";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::PeerRole> ParseRole(absl::string_view name) {
  for (v1::PeerRole role : {v1::PEER_ROLE_COORDINATOR, v1::PEER_ROLE_SERVER, v1::PEER_ROLE_WORKER,
                            v1::PEER_ROLE_ADMIN}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "' (roles: coordinator, server, worker, admin)"));
}

std::string RoleUri(v1::PeerRole role) { return absl::StrCat(kRoleUriPrefix, RoleName(role)); }

absl::StatusOr<CertificateFacts> InspectCertificate(absl::string_view pem) {
  absl::StatusOr<std::vector<X509Ptr>> certificates = ReadCertificates(pem, "the input");
  if (!certificates.ok()) return certificates.status();
  return FactsOf(certificates->front().get());
}

absl::StatusOr<std::shared_ptr<TransportSecurity>> TransportSecurity::Create(
    const SecurityOptions& options) {
  std::shared_ptr<TransportSecurity> security(new TransportSecurity());
  security->options_ = options;
  const int tls_files =
      !options.cert_file.empty() + !options.key_file.empty() + !options.ca_file.empty();
  if (tls_files != 0 && tls_files != 3) {
    return absl::InvalidArgumentError(
        "TLS needs all three of --tls_cert, --tls_key and --tls_ca (or none of them)");
  }
  security->tls_ = tls_files == 3;
  if (security->tls_ && (!options.token_file.empty() || !options.role_tokens_file.empty())) {
    return absl::InvalidArgumentError(
        "tokens are for plaintext clusters; with TLS the certificates name the roles (drop "
        "--token_file and --role_tokens_file)");
  }
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFileToString(options.token_file);
    if (!token.ok()) return token.status();
    security->token_ = std::string(absl::StripAsciiWhitespace(*token));
    if (security->token_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(options.token_file, " holds no token"));
    }
  }
  if (!options.role_tokens_file.empty()) {
    absl::StatusOr<std::map<std::string, RoleSet>> tokens =
        ReadRoleTokens(options.role_tokens_file);
    if (!tokens.ok()) return tokens.status();
    security->role_tokens_ = *std::move(tokens);
  }
  if (security->tls_) {
    if (absl::Status installed = security->InstallFiles(); !installed.ok()) return installed;
    const auto path = [&](int index) {
      return absl::StrCat("/proc/self/fd/", security->watched_fds_[index]);
    };
    security->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        path(kKey), path(kCert), path(kCa), kWatchIntervalSeconds);
    security->verifier_ = grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>();
  }
  return security;
}

std::shared_ptr<const TransportSecurity> TransportSecurity::Plaintext() {
  static const auto* const plaintext =
      new std::shared_ptr<const TransportSecurity>(new TransportSecurity());
  return *plaintext;
}

// The watched descriptors stay open until the process exits: gRPC's watcher thread, held by
// channels and ports, may outlive this object.
TransportSecurity::~TransportSecurity() = default;

absl::Status TransportSecurity::InstallFiles() {
  std::vector<std::string> contents;
  absl::StatusOr<CertificateFacts> facts = CheckTlsFiles(options_, &contents);
  if (!facts.ok()) return facts.status();
  // Each file's bytes go into a fresh memory file, which then takes the watched descriptor's
  // number (dup3 replaces it atomically), so the watcher reads either the old or the new bytes.
  // The key first: the watcher pairs key and certificate and skips a pair that does not match,
  // so a read between two replacements keeps the old pair for one more interval.
  for (int index : {kKey, kCert, kCa}) {
    const int fd = memfd_create("ps-tls", MFD_CLOEXEC);
    if (fd < 0) return ErrnoToStatus("cannot make a memory file for", "the TLS files", errno);
    const std::string& bytes = contents[index];
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = errno;
        close(fd);
        return ErrnoToStatus("cannot write a memory file for", "the TLS files", error);
      }
      written += static_cast<size_t>(n);
    }
    if (watched_fds_[index] < 0) {
      watched_fds_[index] = fd;
    } else {
      const int replaced = dup3(fd, watched_fds_[index], O_CLOEXEC);
      const int error = errno;
      close(fd);
      if (replaced < 0)
        return ErrnoToStatus("cannot replace a memory file for", "the TLS files", error);
    }
  }
  absl::MutexLock lock(&mu_);
  own_certificate_ = *std::move(facts);
  return absl::OkStatus();
}

std::string TransportSecurity::Describe() const {
  if (tls_) {
    absl::MutexLock lock(&mu_);
    return absl::StrCat("mutual TLS; certificate ", own_certificate_.subject, ", roles ",
                        own_certificate_.roles.ToString(), ", valid until ",
                        FormatUtc(own_certificate_.not_after));
  }
  std::string mode = role_tokens_.empty()
                         ? "plaintext, every caller has every role"
                         : absl::StrCat("plaintext with role tokens (", role_tokens_.size(),
                                        " tokens from ", options_.role_tokens_file, ")");
  if (!token_.empty()) absl::StrAppend(&mode, "; presents the token in ", options_.token_file);
  return mode;
}

absl::Status TransportSecurity::CheckListenAddress(const std::string& bind_host) const {
  if (tls_ || IsLoopback(bind_host)) return absl::OkStatus();
  if (options_.insecure) {
    spdlog::warn(
        "INSECURE: listening on {} in plaintext (--insecure): anyone who can reach this "
        "port can join the cluster, push into any table and read the model{}",
        bind_host, role_tokens_.empty() ? "" : " (tokens travel in the clear)");
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to listen on ", bind_host,
      " in plaintext: anyone who can reach it could join the cluster, push into any table and "
      "read the model. Give --tls_cert, --tls_key and --tls_ca (deploy/make_certs.sh makes "
      "them), or --insecure on a network you trust"));
}

std::shared_ptr<grpc::ServerCredentials> TransportSecurity::ServerCredentials() const {
  if (!tls_) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions tls_options(provider_);
  tls_options.watch_root_certs();
  tls_options.watch_identity_key_cert_pairs();
  tls_options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(tls_options);
}

std::shared_ptr<grpc::Channel> TransportSecurity::OpenChannel(
    const std::string& address, const grpc::ChannelArguments& arguments) const {
  if (!tls_) {
    if (token_.empty()) {
      return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
    }
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
    factories.push_back(std::make_unique<TokenInterceptorFactory>(&token_));
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        address, grpc::InsecureChannelCredentials(), arguments, std::move(factories));
  }
  grpc::experimental::TlsChannelCredentialsOptions tls_options;
  tls_options.set_certificate_provider(provider_);
  tls_options.watch_root_certs();
  tls_options.watch_identity_key_cert_pairs();
  tls_options.set_verify_server_certs(true);
  tls_options.set_certificate_verifier(verifier_);
  // PeerVerifier checks the host against the certificate (IP SANs included).
  tls_options.set_check_call_host(false);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(tls_options),
                                   arguments);
}

absl::StatusOr<RoleSet> TransportSecurity::PeerRoles(const grpc::ServerContextBase& context) const {
  if (tls_) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth == nullptr || !auth->IsPeerAuthenticated()) {
      return absl::UnauthenticatedError("the caller presented no certificate");
    }
    RoleSet roles;
    for (const grpc::string_ref& uri : auth->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
      absl::string_view text(uri.data(), uri.size());
      if (!absl::ConsumePrefix(&text, kRoleUriPrefix)) continue;
      if (absl::StatusOr<v1::PeerRole> role = ParseRole(text); role.ok()) roles.Add(*role);
    }
    if (roles.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "the caller's certificate names no role (a URI SAN ", kRoleUriPrefix, "NAME)"));
    }
    return roles;
  }
  if (role_tokens_.empty()) return RoleSet::All();
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find(kTokenMetadata);
  if (found == metadata.end()) {
    return absl::UnauthenticatedError(
        "this cluster needs a token (ps-token metadata; "
        "--token_file) and the call carried none");
  }
  const absl::string_view presented(found->second.data(), found->second.size());
  // Compared in constant time, against every token, so that timing says nothing about them.
  RoleSet roles;
  for (const auto& [token, token_roles] : role_tokens_) {
    if (token.size() == presented.size() &&
        CRYPTO_memcmp(token.data(), presented.data(), token.size()) == 0) {
      roles = token_roles;
    }
  }
  if (roles.empty()) return absl::UnauthenticatedError("unknown token");
  return roles;
}

absl::Status TransportSecurity::Reload() {
  if (!tls_) return absl::FailedPreconditionError("no TLS files to reload (plaintext)");
  return InstallFiles();
}

}  // namespace ps
