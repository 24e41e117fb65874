// psctl: operator CLI of a parameter-server cluster.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/coordinator_addresses.h"
#include "common/grpc_endpoint.h"
#include "common/security_flags.h"
#include "proto/coordinator.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "host:port of the coordinator, or of every coordinator, comma-separated (psctl talks "
          "to the one that leads).");
ABSL_FLAG(int, timeout_s, 5, "How long to wait for the coordinator, in seconds.");
ABSL_FLAG(int, checkpoint_timeout_s, 600, "How long `psctl checkpoint` waits, in seconds.");
ABSL_FLAG(bool, wait, true,
          "`psctl drain`: wait until the server holds no replica (false: start the drain and "
          "return).");
ABSL_FLAG(int, drain_timeout_s, 1800, "How long `psctl drain` waits, in seconds.");

namespace {

const char* StateName(ps::v1::MemberState state) {
  return state == ps::v1::MEMBER_STATE_ALIVE ? "alive" : "dead";
}

int PrintStatus(ps::v1::Coordinator::Stub& coordinator) {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s))));
  ps::v1::ClusterStatus status;
  const grpc::Status rpc = coordinator.GetClusterStatus(&context, {}, &status);
  if (!rpc.ok()) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), rpc.error_message().c_str());
    return 1;
  }
  const ps::v1::ClusterMap& map = status.map();
  std::printf(
      "cluster map epoch %lu: %u shards x %u replicas, heartbeat %u ms, failure timeout %u ms\n",
      static_cast<unsigned long>(map.epoch()), map.num_shards(), map.replication_factor(),
      status.heartbeat_interval_ms(), status.failure_timeout_ms());
  std::printf("\n%-8s %-4s %-22s %-6s %-10s %s\n", "ROLE", "ID", "ADDRESS", "STATE", "HEARTBEAT",
              "PRIMARY/BACKUP SHARDS");
  for (const ps::v1::MemberHealth& health : status.members()) {
    const bool is_server = health.member().role() == ps::v1::MemberRef::ROLE_SERVER;
    std::string address;
    std::string shards;
    if (is_server) {
      for (const auto& server : map.servers()) {
        if (server.server_id() == health.member().id()) address = server.address();
      }
      int primary = 0, backup = 0;
      for (const auto& shard : map.shards()) {
        for (int i = 0; i < shard.replicas_size(); ++i) {
          if (shard.replicas(i) == health.member().id()) ++(i == 0 ? primary : backup);
        }
      }
      shards = absl::StrCat(primary, "/", backup);
    } else {
      for (const auto& worker : map.workers()) {
        if (worker.worker_id() == health.member().id())
          address = absl::StrCat("rank ", worker.rank());
      }
    }
    bool draining = false;
    for (const auto& server : map.servers()) {
      draining |= is_server && server.server_id() == health.member().id() && server.draining();
    }
    const std::string age = health.state() == ps::v1::MEMBER_STATE_ALIVE
                                ? absl::StrCat(health.last_heartbeat_age_ms(), " ms ago")
                                : "-";
    std::printf("%-8s %-4u %-22s %-6s %-10s %s\n", is_server ? "server" : "worker",
                health.member().id(), address.c_str(),
                draining && health.state() == ps::v1::MEMBER_STATE_ALIVE
                    ? "drain"
                    : StateName(health.state()),
                age.c_str(), shards.c_str());
  }
  const ps::v1::CheckpointStatus& checkpoints = status.checkpoints();
  if (checkpoints.directory().empty()) {
    std::printf("\ncheckpoints: off (ps_coordinator --checkpoint_dir)\n");
  } else {
    std::printf("\ncheckpoints in %s: newest complete %s%s\n", checkpoints.directory().c_str(),
                checkpoints.last_complete_id() == 0
                    ? "none"
                    : absl::StrCat(checkpoints.last_complete_id()).c_str(),
                checkpoints.restored_from_id() == 0
                    ? ""
                    : absl::StrCat("; restored from ", checkpoints.restored_from_id()).c_str());
    if (!checkpoints.last_error().empty()) {
      std::printf("LAST CHECKPOINT FAILED: %s\n", checkpoints.last_error().c_str());
    }
  }
  if (map.shards().empty()) {
    std::printf("\nshards not placed yet: waiting for %u servers to register\n",
                status.min_servers());
    return 0;
  }
  if (!status.moves().empty()) {
    std::printf("\nmoving %d replica(s), at most %u at once:\n", status.moves_size(),
                status.max_concurrent_moves());
    for (const ps::v1::ShardMove& move : status.moves()) {
      std::printf("  shard %u: server %u -> server %u (%s%s)\n", move.shard_id(),
                  move.from_server(), move.to_server(), move.reason().c_str(),
                  move.lead() ? ", takes over as primary" : "");
    }
  }
  std::printf("\nSHARD  REPLICAS (primary first)  LEARNERS (copying a snapshot)\n");
  for (const auto& shard : map.shards()) {
    const std::string replicas = absl::StrCat("[", absl::StrJoin(shard.replicas(), ", "), "]");
    const std::string health =
        shard.replicas().empty()
            ? "  UNAVAILABLE: every replica lost"
            : (shard.replicas_size() < static_cast<int>(map.replication_factor())
                   ? absl::StrCat("  under-replicated (", shard.replicas_size(), " of ",
                                  map.replication_factor(), ")")
                   : "");
    std::printf("%-6u %-24s %-9s%s\n", shard.shard_id(), replicas.c_str(),
                shard.learners().empty()
                    ? "-"
                    : absl::StrCat("[", absl::StrJoin(shard.learners(), ", "), "]").c_str(),
                health.c_str());
  }
  return 0;
}

// Takes a checkpoint now and waits for its manifest.
int TakeCheckpoint(ps::v1::Coordinator::Stub& coordinator) {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_checkpoint_timeout_s))));
  ps::v1::CheckpointNowResponse response;
  const grpc::Status rpc = coordinator.Checkpoint(&context, {}, &response);
  if (rpc.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), rpc.error_message().c_str());
    return 2;
  }
  if (!rpc.ok()) {
    std::fprintf(stderr, "psctl: checkpoint failed: %s\n", rpc.error_message().c_str());
    return 1;
  }
  std::printf("checkpoint %lu complete: %d shard files, %.1f MB in %.3f s\n%s\n",
              static_cast<unsigned long>(response.checkpoint_id()), response.shards_size(),
              response.total_bytes() / 1e6, response.seconds(), response.directory().c_str());
  return 0;
}

// The server `name` designates (an id, or the address it registered with) among live servers.
std::optional<uint32_t> FindServer(const ps::v1::ClusterMap& map, const std::string& name) {
  for (const ps::v1::ServerInfo& server : map.servers()) {
    if (server.state() != ps::v1::MEMBER_STATE_ALIVE) continue;
    if (server.address() == name || absl::StrCat(server.server_id()) == name) {
      return server.server_id();
    }
  }
  return std::nullopt;
}

std::optional<ps::v1::ClusterStatus> GetStatus(ps::v1::Coordinator::Stub& coordinator) {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s))));
  ps::v1::ClusterStatus status;
  const grpc::Status rpc = coordinator.GetClusterStatus(&context, {}, &status);
  if (!rpc.ok()) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), rpc.error_message().c_str());
    return std::nullopt;
  }
  return status;
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

Holdings HoldingsOf(const ps::v1::ClusterStatus& status, uint32_t server_id) {
  Holdings held;
  for (const ps::v1::ServerInfo& server : status.map().servers()) {
    if (server.server_id() != server_id) continue;
    held.alive = server.state() == ps::v1::MEMBER_STATE_ALIVE;
    held.draining = server.draining();
  }
  for (const ps::v1::ShardAssignment& shard : status.map().shards()) {
    for (int i = 0; i < shard.replicas_size(); ++i) {
      if (shard.replicas(i) != server_id) continue;
      ++held.replicas;
      if (i == 0) ++held.primaries;
    }
    for (uint32_t learner : shard.learners()) held.learning += learner == server_id;
  }
  std::vector<std::string> moves;
  for (const ps::v1::ShardMove& move : status.moves()) {
    if (move.from_server() == server_id) {
      moves.push_back(absl::StrCat("shard ", move.shard_id(), " -> server ", move.to_server()));
    }
  }
  held.moves = absl::StrJoin(moves, ", ");
  return held;
}

// psctl drain / undrain SERVER.
int Drain(ps::v1::Coordinator::Stub& coordinator, const std::string& name, bool undrain) {
  std::optional<ps::v1::ClusterStatus> status = GetStatus(coordinator);
  if (!status.has_value()) return 2;
  const std::optional<uint32_t> server_id = FindServer(status->map(), name);
  if (!server_id.has_value()) {
    std::fprintf(stderr,
                 "psctl: no live server '%s' (give its id or its host:port; see psctl "
                 "status)\n",
                 name.c_str());
    return 1;
  }
  ps::v1::DrainRequest request;
  request.set_server_id(*server_id);
  ps::v1::DrainResponse response;
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s))));
  const grpc::Status rpc = undrain ? coordinator.Undrain(&context, request, &response)
                                   : coordinator.Drain(&context, request, &response);
  if (!rpc.ok()) {
    std::fprintf(stderr, "psctl: %s server %u failed: %s\n", undrain ? "undrain" : "drain",
                 *server_id, rpc.error_message().c_str());
    return rpc.error_code() == grpc::StatusCode::UNAVAILABLE ? 2 : 1;
  }
  if (undrain) {
    std::printf(
        "server %u is back in service: it keeps the %u replica(s) it holds, and "
        "rebalancing may give it more\n",
        *server_id, response.replicas_held());
    return 0;
  }
  std::printf("draining server %u: %u replica(s) to move, %u of them primaries (moved last)\n",
              *server_id, response.replicas_held(), response.primaries_held());
  if (!absl::GetFlag(FLAGS_wait)) return 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s));
  std::string last_line;
  while (true) {
    status = GetStatus(coordinator);
    if (!status.has_value()) return 2;
    const Holdings held = HoldingsOf(*status, *server_id);
    if (!held.alive) {
      std::fprintf(stderr,
                   "psctl: server %u died while it was drained; the cluster replaced "
                   "its replicas as after any failure\n",
                   *server_id);
      return 1;
    }
    if (!held.draining) {
      std::fprintf(stderr, "psctl: server %u was undrained; it holds %d replica(s)\n", *server_id,
                   held.replicas);
      return 1;
    }
    if (held.replicas == 0 && held.learning == 0) {
      std::printf("server %u holds no replica: it can be stopped with nothing lost\n", *server_id);
      return 0;
    }
    const std::string line = absl::StrCat(
        "server ", *server_id, ": ", held.replicas, " replica(s) left (", held.primaries,
        " primaries)", held.moves.empty() ? "" : absl::StrCat("; moving ", held.moves));
    if (line != last_line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      last_line = line;
    }
    if (absl::Now() > deadline) {
      std::fprintf(stderr,
                   "psctl: server %u still holds %d replica(s) after %d s; the drain "
                   "goes on in the coordinator (psctl status shows it)\n",
                   *server_id, held.replicas, absl::GetFlag(FLAGS_drain_timeout_s));
      return 1;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Operator CLI of a parameter-server cluster.\n"
      "Usage: psctl [--coordinator=HOST:PORT[,HOST:PORT...]] COMMAND\n"
      "  status           members with liveness, every shard's replica chain, moves, checkpoints\n"
      "  checkpoint       take a checkpoint now (needs ps_coordinator --checkpoint_dir)\n"
      "  drain SERVER     move every replica off a server (its id or host:port) and wait until\n"
      "                   it can be stopped with nothing lost (--wait=false: do not wait)\n"
      "  undrain SERVER   return a drained server to service\n"
      "With TLS give an admin certificate: --tls_cert, --tls_key, --tls_ca (README \"Security\").");
  ps::ShowSharedFlagsInHelp();
  std::vector<char*> commands = absl::ParseCommandLine(argc, argv);
  const std::string command = commands.size() >= 2 ? commands[1] : "";
  const bool takes_server = command == "drain" || command == "undrain";
  const size_t arity = takes_server ? 3 : 2;
  if ((command != "status" && command != "checkpoint" && !takes_server) ||
      commands.size() != arity) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  // TLS: psctl presents an admin certificate (--tls_cert, --tls_key, --tls_ca); tokens: an
  // admin token (--token_file).
  absl::StatusOr<std::shared_ptr<ps::TransportSecurity>> security =
      ps::TransportSecurityFromFlags();
  if (!security.ok()) {
    std::fprintf(stderr, "psctl: %s\n", security.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<std::string> leader = ps::FindServingCoordinator(
      absl::GetFlag(FLAGS_coordinator), absl::Seconds(absl::GetFlag(FLAGS_timeout_s)), **security);
  if (!leader.ok()) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), leader.status().ToString().c_str());
    return 2;
  }
  auto coordinator = ps::v1::Coordinator::NewStub(ps::OpenChannel(*leader, **security));
  if (command == "checkpoint") return TakeCheckpoint(*coordinator);
  if (takes_server) return Drain(*coordinator, commands[2], command == "undrain");
  return PrintStatus(*coordinator);
}
