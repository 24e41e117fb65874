// Plain HTTP GETs from tests and benchmarks to what daemons serve over HTTP (/metrics, the
// coordinator's /api/status) and to a test's Prometheus server (its query API). Built on Debian's
// cpp-httplib client, kept out of this header. Thread-safe: each call opens its own connection.
#ifndef PS_TESTS_HARNESS_HTTP_GET_H_
#define PS_TESTS_HARNESS_HTTP_GET_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ps::testing {

// The body of http://`address``path` (address: "host:port"), with `params` URL-encoded as its
// query string. Errors: Unavailable when it cannot connect or the connection fails (the cause in
// the message); Internal, with the status and body, for an answer other than 200.
absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& path,
                                    const std::map<std::string, std::string>& params = {},
                                    absl::Duration timeout = absl::Seconds(10));

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_HTTP_GET_H_
