// Certificates for tests, made by the shipped deploy/make_certs.sh (so the tests also check that
// what it makes works), and the daemon flags that use them.
#ifndef PS_TESTS_HARNESS_TEST_CERTS_H_
#define PS_TESTS_HARNESS_TEST_CERTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/transport_security.h"

namespace ps::testing {

// Runs `make_certs.sh DIR ARGS...` (e.g. {"worker=worker", "--expired"}); an existing CA in DIR
// is reused. Internal with the script's output when it fails.
absl::Status MakeCertificates(const std::string& dir, const std::vector<std::string>& args = {});

// --tls_cert, --tls_key and --tls_ca for certificate NAME of DIR.
std::vector<std::string> TlsFlags(const std::string& dir, const std::string& name);

// SecurityOptions of certificate NAME of DIR.
SecurityOptions TlsOptions(const std::string& dir, const std::string& name);

// TransportSecurity::Create(TlsOptions(dir, name)).
absl::StatusOr<std::shared_ptr<TransportSecurity>> TlsAs(const std::string& dir,
                                                         const std::string& name);

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_TEST_CERTS_H_
