#include "common/grpc_endpoint.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/metrics/grpc_server_metrics.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace ps {

absl::StatusOr<RunningEndpoint> StartEndpoint(const EndpointOptions& options,
                                              const std::vector<grpc::Service*>& services) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", options.port, " is out of range"));
  }
  std::string advertise_host =
      options.advertise_host.empty() ? options.bind_host : options.advertise_host;
  if (advertise_host == "0.0.0.0" || advertise_host == "::" || advertise_host == "[::]") {
    return absl::InvalidArgumentError(
        absl::StrCat("listening on the wildcard address ", advertise_host,
                     " needs --advertise_host: the address other members can reach this one at"));
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError("the maximum message size must be positive");
  }
  if (absl::Status allowed = options.security->CheckListenAddress(options.bind_host);
      !allowed.ok()) {
    return allowed;
  }
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(absl::StrCat(options.bind_host, ":", options.port),
                           options.security->ServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(GrpcServerMetrics(GlobalMetrics()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  RunningEndpoint endpoint;
  endpoint.server = builder.BuildAndStart();
  if (endpoint.server == nullptr || selected_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.bind_host, ":", options.port,
                     " (address in use, or not an address of this machine?)"));
  }
  endpoint.advertised_address = absl::StrCat(advertise_host, ":", selected_port);
  if (!options.address_file.empty()) {
    absl::Status written =
        WriteFileAtomically(options.address_file, endpoint.advertised_address + "\n");
    if (!written.ok()) {
      endpoint.server->Shutdown();
      return written;
    }
  }
  return endpoint;
}

namespace {

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  // gRPC's default reconnect backoff grows to 120 s; a coordinator back from a restart must hear
  // from every member within one failure timeout (1 s by default) or declare it dead, and a
  // worker must find a restarted server as soon as it listens.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  return arguments;
}

}  // namespace

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const TransportSecurity& security) {
  return security.OpenChannel(address, DefaultChannelArguments());
}

std::shared_ptr<grpc::Channel> OpenFreshChannel(const std::string& address,
                                                const TransportSecurity& security) {
  grpc::ChannelArguments arguments = DefaultChannelArguments();
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return security.OpenChannel(address, arguments);
}

}  // namespace ps
