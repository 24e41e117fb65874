// A small HTTP/1.1 server on its own threads for what operators read with a browser or
// Prometheus: /metrics, and the coordinator's status page and JSON. Built on Debian's cpp-httplib
// (kept out of this header so that only http_endpoint.cc compiles it).
//
// Plaintext only, GET only. Listens on 127.0.0.1 unless told otherwise: what it serves is
// read-only, but a cluster's layout is still nobody else's business.
//
// Thread-safety: handlers run on the server's threads, several at once; they must be safe for
// concurrent use. Destroying the endpoint stops it and waits for running handlers.
#ifndef PS_COMMON_METRICS_HTTP_ENDPOINT_H_
#define PS_COMMON_METRICS_HTTP_ENDPOINT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/metrics/metric_registry.h"

namespace ps {

struct HttpRequest {
  std::string path;
  // Query parameters (?a=1&b=2).
  std::map<std::string, std::string> params;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The content type Prometheus expects of the text exposition format.
inline constexpr char kPrometheusTextType[] = "text/plain; version=0.0.4; charset=utf-8";

class HttpEndpoint {
 public:
  // Serves `handlers` (exact paths) on host:port (port 0: any free port); other paths get 404,
  // other methods 405. Errors: Unavailable naming the address when it cannot listen.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(
      const std::string& host, int port, std::map<std::string, HttpHandler> handlers);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The port it listens on.
  int port() const { return port_; }

 private:
  struct Server;
  HttpEndpoint(std::unique_ptr<Server> server, int port);

  std::unique_ptr<Server> server_;
  const int port_;
  std::thread thread_;
};

// The /metrics handler of `registry`.
HttpHandler MetricsHandler(const MetricRegistry& registry);

}  // namespace ps

#endif  // PS_COMMON_METRICS_HTTP_ENDPOINT_H_
