#include "tools/psctl/metrics_scrape.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "httplib.h"

namespace ps::psctl {
namespace {

// The metric a line of the exposition belongs to: the third word of "# HELP name ..." and
// "# TYPE name ...", the name before the labels or value of a sample; "" for other comments.
absl::string_view MetricName(absl::string_view line) {
  if (absl::ConsumePrefix(&line, "# HELP ") || absl::ConsumePrefix(&line, "# TYPE ")) {
    return line.substr(0, line.find(' '));
  }
  if (absl::StartsWith(line, "#")) return "";
  return line.substr(0, line.find_first_of("{ "));
}

// Splits host:port at its last colon ([::1]:9090 keeps its brackets).
std::pair<std::string, std::string> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return {address, ""};
  return {address.substr(0, colon), address.substr(colon + 1)};
}

// Why a request got no answer, in words (httplib's names are terse: "Connection").
std::string Reason(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect (nothing listens there?)";
    case httplib::Error::ConnectionTimeout:
      return "timed out connecting";
    case httplib::Error::Read:
      return "no answer read (timed out or closed)";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace

bool NamesHost(const std::string& http_flag) { return http_flag.find(':') != std::string::npos; }

absl::StatusOr<std::string> MetricsAddress(const std::string& http_flag,
                                           const std::string& coordinator_address) {
  if (http_flag.empty()) {
    return absl::InvalidArgumentError(
        "psctl metrics needs --http=[HOST:]PORT, the coordinator's --http_port (a bare port "
        "means the host of the coordinator that leads)");
  }
  const auto [host, port_text] =
      NamesHost(http_flag) ? SplitHostPort(http_flag)
                           : std::make_pair(SplitHostPort(coordinator_address).first, http_flag);
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535 || host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http=", http_flag, " is not [HOST:]PORT with a port in 1..65535"));
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::string> FetchMetrics(const std::string& address, absl::Duration timeout) {
  const auto [host, port_text] = SplitHostPort(address);
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(address, " is not host:port"));
  }
  // httplib wants an IPv6 host without its brackets.
  httplib::Client client(std::string(absl::StripSuffix(absl::StripPrefix(host, "["), "]")), port);
  const auto micros = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(micros / 1000000, micros % 1000000);
  client.set_read_timeout(micros / 1000000, micros % 1000000);
  const httplib::Result response = client.Get("/metrics");
  if (!response) {
    return absl::UnavailableError(absl::StrCat("cannot reach the coordinator's HTTP endpoint at ",
                                               address, ": ", Reason(response.error())));
  }
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("GET http://", address, "/metrics answered ",
                                            response->status, ": ", response->body));
  }
  return response->body;
}

std::string FilterMetrics(absl::string_view exposition, absl::string_view prefix) {
  if (prefix.empty()) return std::string(exposition);
  std::string out;
  for (absl::string_view line : absl::StrSplit(exposition, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(MetricName(line), prefix)) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace ps::psctl
