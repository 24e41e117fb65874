#include "common/metrics/http_endpoint.h"

#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace ps {

struct HttpEndpoint::Server {
  httplib::Server http;
};

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const std::string& host, int port, std::map<std::string, HttpHandler> handlers) {
  auto server = std::make_unique<Server>();
  // Four threads serve a scrape, a page load and its API calls at once; the default (one per
  // core, at least eight) is more than a daemon should spend on its observers.
  server->http.new_task_queue = [] { return new httplib::ThreadPool(4); };
  for (auto& [path, handler] : handlers) {
    server->http.Get(path, [handler = std::move(handler)](const httplib::Request& request,
                                                          httplib::Response& response) {
      HttpRequest ours;
      ours.path = request.path;
      for (const auto& [key, value] : request.params) ours.params.emplace(key, value);
      HttpResponse answer = handler(ours);
      response.status = answer.status;
      response.set_content(std::move(answer.body), answer.content_type.c_str());
    });
  }
  // httplib's default also sets SO_REUSEPORT, which lets a second daemon share the port silently
  // (the kernel would split the scrapes between them): a port in use must be an error.
  server->http.set_socket_options([](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // httplib writes a response's headers and body separately: with Nagle on, the body waits for
  // the client's ACK of the headers, which Linux delays 40 ms once the connection looks
  // interactive (a client sending its next request right after an answer, on a kept-alive
  // connection). Go's servers set TCP_NODELAY for the same reason.
  server->http.set_tcp_nodelay(true);
  // One request per connection ("Connection: close"). httplib serves a kept-alive connection by
  // polling it (a 10 ms select, a 1 ms sleep: about 90 wake-ups a second) from one of the four
  // threads until 5 s of silence, and a scraper comes back every second or so: the wake-ups
  // tripled what a scrape a second costs a daemon (2.3 ms of CPU a second instead of 0.7), and
  // four idle browser connections would hold every thread. A loopback connect costs far less.
  server->http.set_keep_alive_max_count(1);
  // Requests carry nothing worth more than a URL.
  server->http.set_payload_max_length(64 * 1024);
  server->http.set_read_timeout(5, 0);
  server->http.set_write_timeout(5, 0);
  int bound = port;
  if (port == 0) {
    bound = server->http.bind_to_any_port(host);
  } else if (!server->http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", host, ":", port, " (in use, or no such address)"));
  }
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(server), bound));
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] { server_->http.listen_after_bind(); });
}

HttpEndpoint::~HttpEndpoint() {
  // stop() does nothing to a server whose thread has not started listening yet, which would then
  // listen forever: wait for it first (a moment, unless the machine is starved).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!server_->http.is_running() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  server_->http.stop();
  thread_.join();
}

HttpHandler MetricsHandler(const MetricRegistry& registry) {
  return [&registry](const HttpRequest&) {
    HttpResponse response;
    response.content_type = kPrometheusTextType;
    response.body = registry.Render();
    return response;
  };
}

}  // namespace ps
