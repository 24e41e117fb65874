#include "tests/harness/http_get.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace ps::testing {

absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& path,
                                    const std::map<std::string, std::string>& params,
                                    absl::Duration timeout) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: '", address, "'"));
  }
  httplib::Client client(address.substr(0, colon), port);
  const auto micros = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_read_timeout(micros / 1'000'000, micros % 1'000'000);
  httplib::Params query(params.begin(), params.end());
  httplib::Result result = client.Get(path, query, httplib::Headers());
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", address, path, ": ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::InternalError(absl::StrCat("GET http://", address, path, ": status ",
                                            result->status, ": ", result->body));
  }
  return std::move(result->body);
}

}  // namespace ps::testing
