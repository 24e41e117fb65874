#include "common/metrics/grpc_server_metrics.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace ps {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

// The families, and per method the metrics that do not depend on the outcome, so that a call
// looks its method up once.
class ServerMetrics {
 public:
  explicit ServerMetrics(MetricRegistry& registry)
      : handled_(
            registry.AddCounter("grpc_server_handled_total",
                                "RPCs completed on the server, regardless of success or failure.",
                                {"grpc_service", "grpc_method", "grpc_code"})),
        seconds_(registry.AddHistogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, as the server saw it.",
            {"grpc_service", "grpc_method"}, LatencySecondsBuckets())) {}

  struct Method {
    std::string service;
    std::string method;
    Histogram* seconds = nullptr;
  };

  const Method& For(const char* full_method) {
    absl::MutexLock lock(&mu_);
    Method& method = methods_[full_method];
    if (method.seconds == nullptr) {
      // "/package.Service/Method"
      const absl::string_view name = full_method;
      const size_t slash = name.rfind('/');
      method.service = std::string(name.substr(name.empty() ? 0 : 1, slash == 0 ? 0 : slash - 1));
      method.method = std::string(name.substr(slash + 1));
      method.seconds = &seconds_.With({method.service, method.method});
    }
    return method;
  }
  void Handled(const Method& method, grpc::StatusCode code) {
    handled_.With({method.service, method.method, CodeName(code)}).Add();
  }

 private:
  Family<Counter>& handled_;
  Family<Histogram>& seconds_;
  absl::Mutex mu_;
  // Node-based: the references For() returns stay valid.
  absl::node_hash_map<std::string, Method> methods_ ABSL_GUARDED_BY(mu_);
};

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(ServerMetrics& metrics, const ServerMetrics::Method& method)
      : metrics_(metrics), method_(method), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      method_.seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start_));
      metrics_.Handled(method_, methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  const ServerMetrics::Method& method_;
  const absl::Time start_;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, metrics_.For(info->method()));
  }

 private:
  ServerMetrics& metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> GrpcServerMetrics(
    MetricRegistry& registry) {
  // One set of families per registry, shared by every server of the process.
  static absl::Mutex mu(absl::kConstInit);
  static auto* by_registry = new absl::flat_hash_map<MetricRegistry*, ServerMetrics*>();
  ServerMetrics* metrics;
  {
    absl::MutexLock lock(&mu);
    ServerMetrics*& slot = (*by_registry)[&registry];
    if (slot == nullptr) slot = new ServerMetrics(registry);
    metrics = slot;
  }
  return std::make_unique<MetricsInterceptorFactory>(*metrics);
}

}  // namespace ps
