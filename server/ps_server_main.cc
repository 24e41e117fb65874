// ps_server: a parameter-server daemon hosting replicas of virtual shards.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/coordinator_session.h"
#include "common/denormals.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "common/metrics/metrics_flags.h"
#include "common/security_flags.h"
#include "common/termination_signal.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/data_plane_service.h"
#include "server/shard_roles.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "host:port of the coordinator, or of every coordinator, comma-separated (the server "
          "follows the one that leads).");
ABSL_FLAG(std::string, bind_host, "127.0.0.1", "Interface to listen on (0.0.0.0 for all).");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one (see --address_file).");
ABSL_FLAG(std::string, advertise_host, "",
          "Host name workers and peers use to reach this server; defaults to --bind_host.");
ABSL_FLAG(std::string, address_file, "",
          "If set, the server writes its host:port here once listening (for scripts).");
ABSL_FLAG(int, register_timeout_s, 30,
          "How long to keep trying to reach the coordinator at start, in seconds.");
ABSL_FLAG(int, lease_ms, 0,
          "How long after its last acknowledged heartbeat the server keeps serving, in ms, so that "
          "a hung or partitioned server stops before it can be replaced. 0: the coordinator's "
          "lease (3/4 of its failure timeout); a longer value is cut to it.");
ABSL_FLAG(int, replication_timeout_ms, 5000,
          "Deadline of one replication call to a backup, in ms; a backup that misses it is "
          "reported to the coordinator.");
ABSL_FLAG(int, max_message_mb, 256,
          "Largest request the server accepts, in MiB (RESOURCE_EXHAUSTED beyond): a push or "
          "pull frame carries at most the shards of a table this server leads, so the default "
          "fits dense tables up to about 256 MiB per server.");
ABSL_FLAG(int64_t, memory_mb, 0,
          "Memory quota of the shards this server holds, in MiB (0: none). A push that would "
          "create sparse rows beyond it is refused with RESOURCE_EXHAUSTED and nothing applied; "
          "set it below what the machine can give the server so client traffic cannot get it "
          "killed.");
ABSL_FLAG(int64_t, table_memory_mb, 0,
          "Memory quota of one table's shards on this server, in MiB (0: none), enforced like "
          "--memory_mb, so that one table cannot take the memory of the others.");
ABSL_FLAG(int, max_parked_pulls, 65536,
          "Pulls that may wait here for slower workers (BSP, SSP) at once; beyond, "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_parked_pulls_per_client, 1024,
          "The same per client connection, so one client cannot take them all.");
ABSL_FLAG(int, max_streams_per_client, 64,
          "Push streams (PushStream) one client connection may hold open at once.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Parameter-server daemon: hosts shard replicas of the cluster's tables and serves pushes\n"
      "and pulls. Usage: ps_server --coordinator=HOST:PORT [--port=0] [--address_file=PATH]");
  ps::ShowSharedFlagsInHelp();
  absl::ParseCommandLine(argc, argv);
  ps::FlushDenormalsToZero();
  ps::BlockTerminationSignals();
  // A file-size limit reached while writing a checkpoint must fail that write (EFBIG, reported
  // like a full disk), not kill the server.
  signal(SIGXFSZ, SIG_IGN);
  if (absl::Status logging = ps::InitLogging("server", absl::GetFlag(FLAGS_log_level));
      !logging.ok()) {
    std::fprintf(stderr, "ps_server: %s\n", logging.ToString().c_str());
    return 2;
  }

  if (absl::GetFlag(FLAGS_lease_ms) < 0 || absl::GetFlag(FLAGS_replication_timeout_ms) <= 0) {
    std::fprintf(stderr, "ps_server: --lease_ms must be >= 0 and --replication_timeout_ms > 0\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_parked_pulls) < 1 ||
      absl::GetFlag(FLAGS_max_parked_pulls_per_client) < 1 ||
      absl::GetFlag(FLAGS_max_streams_per_client) < 1) {
    std::fprintf(stderr,
                 "ps_server: --max_parked_pulls, --max_parked_pulls_per_client and "
                 "--max_streams_per_client must be >= 1\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_memory_mb) < 0 || absl::GetFlag(FLAGS_table_memory_mb) < 0) {
    std::fprintf(stderr, "ps_server: --memory_mb and --table_memory_mb must be >= 0\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_message_mb) < 1 || absl::GetFlag(FLAGS_max_message_mb) > 1024) {
    std::fprintf(stderr, "ps_server: --max_message_mb must be 1..1024\n");
    return 2;
  }
  absl::StatusOr<std::shared_ptr<ps::TransportSecurity>> security =
      ps::TransportSecurityFromFlags();
  absl::Status secure = security.status();
  if (secure.ok()) secure = (*security)->CheckListenAddress(absl::GetFlag(FLAGS_bind_host));
  if (secure.ok()) secure = ps::CheckMetricsFlags();
  if (!secure.ok()) {
    std::fprintf(stderr, "ps_server: %s\n", secure.ToString().c_str());
    return 2;
  }
  spdlog::info("effective configuration: {}", ps::EffectiveFlags());
  spdlog::info("transport: {}", (*security)->Describe());
  absl::StatusOr<std::unique_ptr<ps::HttpEndpoint>> metrics = ps::StartMetricsEndpointFromFlags();
  if (!metrics.ok()) {
    std::fprintf(stderr, "ps_server: cannot serve metrics: %s\n",
                 metrics.status().ToString().c_str());
    return 2;
  }
  if (*metrics != nullptr) {
    spdlog::info("metrics on http://{}:{}/metrics", absl::GetFlag(FLAGS_metrics_host),
                 (*metrics)->port());
  }
  // The session starts after the service (it needs the service's address), so the service reaches
  // it through this pointer, set once registration returns; the service's threads use it under a
  // reader lock, and main replaces it (after an expulsion) under the writer lock.
  struct {
    absl::Mutex mu;
    ps::CoordinatorSession* session ABSL_GUARDED_BY(mu) = nullptr;
  } for_service;
  const auto set_session_for_service = [&](ps::CoordinatorSession* session) {
    absl::MutexLock lock(&for_service.mu);
    for_service.session = session;
  };
  std::atomic<int64_t> lease_ms{absl::GetFlag(FLAGS_lease_ms)};
  ps::DataPlaneOptions data_plane_options;
  data_plane_options.replication_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_replication_timeout_ms));
  data_plane_options.security = *security;
  data_plane_options.memory.server_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_memory_mb))
                                           << 20;
  data_plane_options.max_parked_pulls = absl::GetFlag(FLAGS_max_parked_pulls);
  data_plane_options.max_parked_pulls_per_client = absl::GetFlag(FLAGS_max_parked_pulls_per_client);
  data_plane_options.max_streams_per_client = absl::GetFlag(FLAGS_max_streams_per_client);
  data_plane_options.memory.table_bytes =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_table_memory_mb)) << 20;
  data_plane_options.lease_valid = [&] {
    absl::ReaderMutexLock lock(&for_service.mu);
    return for_service.session != nullptr &&
           for_service.session->WithinLease(absl::Milliseconds(lease_ms.load()));
  };
  data_plane_options.report_replica_failure = [&](const ps::v1::ReportReplicaFailureRequest& r) {
    absl::ReaderMutexLock lock(&for_service.mu);
    if (for_service.session != nullptr) for_service.session->ReportReplicaFailure(r);
  };
  data_plane_options.report_handoff_ready = [&](uint32_t shard, uint64_t epoch) {
    absl::ReaderMutexLock lock(&for_service.mu);
    if (for_service.session != nullptr) for_service.session->ReportHandoffReady(shard, epoch);
  };
  data_plane_options.report_learner_caught_up = [&](uint32_t shard, uint64_t catalog_version) {
    absl::ReaderMutexLock lock(&for_service.mu);
    if (for_service.session == nullptr) return absl::UnavailableError("not registered yet");
    return for_service.session->ReportLearnerCaughtUp(shard, catalog_version);
  };
  ps::DataPlaneService parameter_server(data_plane_options);
  ps::EndpointOptions endpoint_options;
  endpoint_options.bind_host = absl::GetFlag(FLAGS_bind_host);
  endpoint_options.port = absl::GetFlag(FLAGS_port);
  endpoint_options.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  endpoint_options.address_file = absl::GetFlag(FLAGS_address_file);
  endpoint_options.security = *security;
  endpoint_options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  absl::StatusOr<ps::RunningEndpoint> endpoint =
      ps::StartEndpoint(endpoint_options, {&parameter_server});
  if (!endpoint.ok()) {
    spdlog::critical("cannot start: {}", endpoint.status().ToString());
    return 1;
  }
  spdlog::info("server listening on {}; coordinator {}", endpoint->advertised_address,
               absl::GetFlag(FLAGS_coordinator));

  ps::CoordinatorSessionOptions session_options;
  session_options.coordinator_address = absl::GetFlag(FLAGS_coordinator);
  session_options.role = ps::v1::MemberRef::ROLE_SERVER;
  session_options.advertised_address = endpoint->advertised_address;
  session_options.register_timeout = absl::Seconds(absl::GetFlag(FLAGS_register_timeout_s));
  session_options.security = *security;
  // Shared by main and the session's watch thread, which calls the map callback.
  struct {
    absl::Mutex mu;
    uint32_t self_id ABSL_GUARDED_BY(mu) = 0;  // 0 until registration returns.
    ps::ShardRoles roles ABSL_GUARDED_BY(mu);
  } membership;
  std::atomic<bool> expelled{false};
  // Registers (again, after an expulsion: a new server id and incarnation) and adopts the map.
  const auto join = [&]() -> absl::StatusOr<std::unique_ptr<ps::CoordinatorSession>> {
    {
      absl::MutexLock lock(&membership.mu);
      membership.self_id = 0;
      membership.roles = ps::ShardRoles();
    }
    absl::StatusOr<std::unique_ptr<ps::CoordinatorSession>> session = ps::CoordinatorSession::Start(
        session_options,
        [&](const ps::v1::ClusterMap& map) {
          absl::MutexLock lock(&membership.mu);
          // The registration map; adopted once registered.
          if (membership.self_id == 0) return;
          parameter_server.OnClusterMap(map, membership.self_id);
          const ps::ShardRoles now = ps::RolesOf(map, membership.self_id);
          if (now == membership.roles) return;
          membership.roles = now;
          spdlog::info("map epoch {}: {}", map.epoch(), ps::DescribeRoles(membership.roles));
        },
        [&](const absl::Status&) {
          // The cluster moved on without this incarnation (it stalled past the failure
          // timeout): wake main, which joins again as a new member.
          expelled = true;
          kill(getpid(), SIGTERM);
        });
    if (!session.ok()) return session;
    absl::MutexLock lock(&membership.mu);
    membership.self_id = (*session)->member_id();
    ps::NameLoggedMember(absl::StrCat("server-", membership.self_id));
    const int64_t coordinator_lease = absl::ToInt64Milliseconds((*session)->lease());
    if (lease_ms.load() == 0 || lease_ms.load() > coordinator_lease) {
      if (lease_ms.load() > coordinator_lease) {
        spdlog::warn(
            "--lease_ms={} exceeds the coordinator's lease ({} ms); using {} ms so the "
            "server stops serving before it can be replaced",
            lease_ms.load(), coordinator_lease, coordinator_lease);
      }
      lease_ms = coordinator_lease;
    }
    set_session_for_service(session->get());
    spdlog::info("lease {} ms (failure timeout {} ms)", lease_ms.load(),
                 absl::ToInt64Milliseconds((*session)->failure_timeout()));
    const ps::v1::ClusterMap map = (*session)->CurrentMap();
    parameter_server.OnClusterMap(map, membership.self_id);
    membership.roles = ps::RolesOf(map, membership.self_id);
    spdlog::info("server {}: {}", membership.self_id, ps::DescribeRoles(membership.roles));
    return session;
  };
  absl::StatusOr<std::unique_ptr<ps::CoordinatorSession>> session = join();
  if (!session.ok()) {
    spdlog::critical("{}", session.status().ToString());
    endpoint->server->Shutdown();
    return 1;
  }

  int signal_number = 0;
  while (true) {
    signal_number = ps::WaitForTerminationSignal(ps::ReloadOnHangup(*security));
    if (!expelled.exchange(false)) break;
    spdlog::error(
        "the coordinator declared this server dead (it was unreachable or stalled for longer "
        "than the failure timeout); its shards have moved to other replicas. Dropping every "
        "shard and joining again as a new member (spare capacity)");
    set_session_for_service(nullptr);
    (*session).reset();
    session = join();
    if (!session.ok()) {
      spdlog::critical("cannot join again: {}", session.status().ToString());
      parameter_server.Stop();
      endpoint->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      return 1;
    }
  }
  parameter_server.Stop();
  set_session_for_service(nullptr);
  spdlog::info("received signal {}; leaving the cluster", signal_number);
  (*session)->Leave();
  endpoint->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  spdlog::info("server stopped");
  return 0;
}
