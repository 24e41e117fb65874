#include "tools/psctl/drain_command.h"

#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/psctl/exit_codes.h"

namespace ps::psctl {
namespace {

// The server `name` designates (an id, or the address it registered with) among live servers.
std::optional<uint32_t> FindLiveServer(const v1::ClusterMap& map, const std::string& name) {
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() != v1::MEMBER_STATE_ALIVE) continue;
    if (server.address() == name || absl::StrCat(server.server_id()) == name) {
      return server.server_id();
    }
  }
  return std::nullopt;
}

// Where a drained server stands: replicas and primaries it holds, learner copies it makes.
struct Holdings {
  int replicas = 0;
  int primaries = 0;
  int learning = 0;
  bool alive = false;
  bool draining = false;
  std::string moves;
};

Holdings HoldingsOf(const v1::ClusterStatus& status, uint32_t server_id) {
  Holdings held;
  for (const v1::ServerInfo& server : status.map().servers()) {
    if (server.server_id() != server_id) continue;
    held.alive = server.state() == v1::MEMBER_STATE_ALIVE;
    held.draining = server.draining();
  }
  for (const v1::ShardAssignment& shard : status.map().shards()) {
    for (int i = 0; i < shard.replicas_size(); ++i) {
      if (shard.replicas(i) != server_id) continue;
      ++held.replicas;
      if (i == 0) ++held.primaries;
    }
    for (uint32_t learner : shard.learners()) held.learning += learner == server_id;
  }
  std::vector<std::string> moves;
  for (const v1::ShardMove& move : status.moves()) {
    if (move.from_server() == server_id) {
      moves.push_back(absl::StrCat("shard ", move.shard_id(), " -> server ", move.to_server()));
    }
  }
  held.moves = absl::StrJoin(moves, ", ");
  return held;
}

// Polls until server `server_id` holds nothing, printing each change of what it holds.
int WaitUntilEmpty(CoordinatorClient& coordinator, const std::string& addresses, uint32_t server_id,
                   const DrainOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  std::string last_line;
  while (true) {
    const absl::StatusOr<v1::ClusterStatus> status = coordinator.GetStatus();
    if (!status.ok())
      return CoordinatorError(addresses, "reading the cluster status", status.status());
    const Holdings held = HoldingsOf(*status, server_id);
    if (!held.alive) {
      return Fail(kExitFailed, absl::StrCat("server ", server_id,
                                            " died while it was drained; the cluster replaced "
                                            "its replicas as after any failure"));
    }
    if (!held.draining) {
      return Fail(kExitFailed, absl::StrCat("server ", server_id, " was undrained; it holds ",
                                            held.replicas, " replica(s)"));
    }
    if (held.replicas == 0 && held.learning == 0) {
      std::printf("server %u holds no replica: it can be stopped with nothing lost\n", server_id);
      return kExitOk;
    }
    const std::string line = absl::StrCat(
        "server ", server_id, ": ", held.replicas, " replica(s) left (", held.primaries,
        " primaries)", held.moves.empty() ? "" : absl::StrCat("; moving ", held.moves));
    if (line != last_line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      last_line = line;
    }
    if (absl::Now() > deadline) {
      return Fail(kExitFailed,
                  absl::StrCat("server ", server_id, " still holds ", held.replicas,
                               " replica(s) after ", absl::FormatDuration(options.timeout),
                               "; the drain goes on in the coordinator (psctl status shows it)"));
    }
    absl::SleepFor(options.poll_interval);  // The coordinator offers no watch of moves.
  }
}

}  // namespace

int RunDrain(CoordinatorClient& coordinator, const std::string& addresses,
             const std::string& server, bool undrain, const DrainOptions& options) {
  const absl::StatusOr<v1::ClusterStatus> status = coordinator.GetStatus();
  if (!status.ok())
    return CoordinatorError(addresses, "reading the cluster status", status.status());
  const std::optional<uint32_t> server_id = FindLiveServer(status->map(), server);
  if (!server_id.has_value()) {
    return Fail(kExitFailed, absl::StrCat("no live server '", server,
                                          "' (give its id or its host:port; see psctl members)"));
  }
  const absl::StatusOr<v1::DrainResponse> response =
      undrain ? coordinator.Undrain(*server_id) : coordinator.Drain(*server_id);
  if (!response.ok()) {
    return CoordinatorError(addresses,
                            absl::StrCat(undrain ? "undrain" : "drain", " server ", *server_id),
                            response.status());
  }
  if (undrain) {
    std::printf(
        "server %u is back in service: it keeps the %u replica(s) it holds, and rebalancing may "
        "give it more\n",
        *server_id, response->replicas_held());
    return kExitOk;
  }
  std::printf("draining server %u: %u replica(s) to move, %u of them primaries (moved last)\n",
              *server_id, response->replicas_held(), response->primaries_held());
  std::fflush(stdout);
  if (!options.wait) return kExitOk;
  return WaitUntilEmpty(coordinator, addresses, *server_id, options);
}

}  // namespace ps::psctl
