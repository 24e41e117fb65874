// psctl: operator CLI of a parameter-server cluster.
#include <cstdio>
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
#include "proto/coordinator.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "host:port of the coordinator, or of every coordinator, comma-separated (psctl talks "
          "to the one that leads).");
ABSL_FLAG(int, timeout_s, 5, "How long to wait for the coordinator, in seconds.");
ABSL_FLAG(int, checkpoint_timeout_s, 600, "How long `psctl checkpoint` waits, in seconds.");

namespace {

const char* StateName(ps::v1::MemberState state) {
  return state == ps::v1::MEMBER_STATE_ALIVE ? "alive" : "dead";
}

int PrintStatus(ps::v1::Coordinator::Stub& coordinator) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s))));
  ps::v1::ClusterStatus status;
  const grpc::Status rpc = coordinator.GetClusterStatus(&context, {}, &status);
  if (!rpc.ok()) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), rpc.error_message().c_str());
    return 1;
  }
  const ps::v1::ClusterMap& map = status.map();
  std::printf("cluster map epoch %lu: %u shards x %u replicas, heartbeat %u ms, failure timeout %u ms\n",
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
        if (worker.worker_id() == health.member().id()) address = absl::StrCat("rank ", worker.rank());
      }
    }
    const std::string age = health.state() == ps::v1::MEMBER_STATE_ALIVE
                                ? absl::StrCat(health.last_heartbeat_age_ms(), " ms ago")
                                : "-";
    std::printf("%-8s %-4u %-22s %-6s %-10s %s\n", is_server ? "server" : "worker",
                health.member().id(), address.c_str(), StateName(health.state()), age.c_str(),
                shards.c_str());
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
    std::printf("\nshards not placed yet: waiting for %u servers to register\n", status.min_servers());
    return 0;
  }
  std::printf("\nSHARD  REPLICAS (primary first)  LEARNERS (copying, to restore R)\n");
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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Operator CLI of a parameter-server cluster.\n"
      "Usage: psctl [--coordinator=HOST:PORT[,HOST:PORT...]] COMMAND\n"
      "  status       members with liveness, every shard's replica chain, checkpoints\n"
      "  checkpoint   take a checkpoint now (needs ps_coordinator --checkpoint_dir)");
  std::vector<char*> commands = absl::ParseCommandLine(argc, argv);
  const std::string command = commands.size() == 2 ? commands[1] : "";
  if (command != "status" && command != "checkpoint") {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  absl::StatusOr<std::string> leader = ps::FindServingCoordinator(
      absl::GetFlag(FLAGS_coordinator), absl::Seconds(absl::GetFlag(FLAGS_timeout_s)));
  if (!leader.ok()) {
    std::fprintf(stderr, "psctl: cannot reach the coordinator at %s: %s\n",
                 absl::GetFlag(FLAGS_coordinator).c_str(), leader.status().ToString().c_str());
    return 2;
  }
  auto coordinator = ps::v1::Coordinator::NewStub(ps::OpenChannel(*leader));
  if (command == "checkpoint") return TakeCheckpoint(*coordinator);
  return PrintStatus(*coordinator);
}
