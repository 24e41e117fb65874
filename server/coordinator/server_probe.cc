#include "server/coordinator/server_probe.h"

#include <atomic>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace ps {

ProbeResult ProbeServer(const std::string& address, absl::Duration timeout) {
  static std::atomic<int> probes{0};
  grpc::ChannelArguments arguments;
  // A distinct argument keeps gRPC from reusing another channel's subchannel (and its backoff).
  arguments.SetInt("ps.probe", probes.fetch_add(1));
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (true) {
    if (state == GRPC_CHANNEL_READY) return ProbeResult::kConnected;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return ProbeResult::kRefused;
    }
    if (!channel->WaitForStateChange(state, deadline)) return ProbeResult::kUndecided;
    state = channel->GetState(/*try_to_connect=*/true);
  }
}

}  // namespace ps
