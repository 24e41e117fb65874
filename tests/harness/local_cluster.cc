#include "tests/harness/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/coordinator_addresses.h"
#include "common/grpc_endpoint.h"
#include "tests/harness/free_port.h"

namespace ps::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// Appends member `index`'s own arguments (per_server_args, per_worker_args), if it has any.
void AppendOwnArgs(const std::vector<std::vector<std::string>>& per_member, int index,
                   std::vector<std::string>& args) {
  if (static_cast<size_t>(index) >= per_member.size()) return;
  args.insert(args.end(), per_member[index].begin(), per_member[index].end());
}

}  // namespace

int AliveServers(const v1::ClusterMap& map) {
  int alive = 0;
  for (const auto& server : map.servers()) alive += server.state() == v1::MEMBER_STATE_ALIVE;
  return alive;
}

int AliveWorkers(const v1::ClusterMap& map) {
  int alive = 0;
  for (const auto& worker : map.workers()) alive += worker.state() == v1::MEMBER_STATE_ALIVE;
  return alive;
}

int TestTimeScale() {
  const char* scale = std::getenv("PS_TEST_TIME_SCALE");
  int value = 1;
  if (scale == nullptr || !absl::SimpleAtoi(scale, &value) || value < 1) return 1;
  return value;
}

namespace {

LocalClusterOptions Scaled(LocalClusterOptions options) {
  const uint32_t scale = static_cast<uint32_t>(TestTimeScale());
  options.heartbeat_interval_ms *= scale;
  options.failure_timeout_ms *= scale;
  return options;
}

}  // namespace

LocalCluster::LocalCluster(const LocalClusterOptions& options) : options_(Scaled(options)) {}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    const LocalClusterOptions& options) {
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(options));
  absl::Status started = cluster->StartAll();
  if (!started.ok()) {
    return absl::Status(started.code(), absl::StrCat(started.message(), "\n", cluster->AllLogs()));
  }
  return cluster;
}

absl::Status LocalCluster::StartAll() {
  directory_ = MakeTempDir("cluster");
  if (directory_.empty()) return absl::InternalError("cannot create a temp dir");
  if (!options_.etcd_url.empty()) {
    if (absl::Status started = StartCoordinatorsOnEtcd(); !started.ok()) return started;
  } else {
    if (absl::Status started = StartCoordinator(); !started.ok()) return started;
  }
  return StartMembers();
}

std::vector<std::string> LocalCluster::CoordinatorArgs() const {
  return {absl::StrCat("--num_shards=", options_.num_shards),
          absl::StrCat("--replication_factor=", options_.replication_factor),
          absl::StrCat("--min_servers=", options_.servers),
          absl::StrCat("--heartbeat_interval_ms=", options_.heartbeat_interval_ms),
          absl::StrCat("--failure_timeout_ms=", options_.failure_timeout_ms)};
}

absl::Status LocalCluster::StartCoordinator() {
  const std::string coordinator_file = directory_ + "/coordinator.addr";
  std::vector<std::string> coordinator_args = {"--port=0", "--address_file=" + coordinator_file};
  const std::vector<std::string> common = CoordinatorArgs();
  coordinator_args.insert(coordinator_args.end(), common.begin(), common.end());
  coordinator_args.insert(coordinator_args.end(), options_.coordinator_args.begin(),
                          options_.coordinator_args.end());
  coordinator_args_ = {coordinator_args};
  coordinator_generations_ = {0};
  coordinator_started_ = absl::Now();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator =
      DaemonProcess::Start(RunfilePath("server/coordinator/ps_coordinator"), coordinator_args,
                           directory_ + "/coordinator.log");
  if (!coordinator.ok()) return coordinator.status();
  coordinators_.push_back(*std::move(coordinator));
  absl::StatusOr<std::string> address =
      WaitForAddressFile(coordinator_file, kStartTimeout, coordinators_.back().get());
  if (!address.ok()) return address.status();
  coordinator_address_ = *address;
  coordinator_addresses_ = {*address};
  stub_ = v1::Coordinator::NewStub(OpenChannel(coordinator_address_, *options_.security));
  stub_address_ = coordinator_address_;
  return absl::OkStatus();
}

absl::Status LocalCluster::StartCoordinatorsOnEtcd() {
  // Fixed ports (members find the leader among fixed addresses), a cluster name of this run's
  // own so that runs sharing one etcd never meet.
  const std::string cluster_name =
      absl::StrCat("test-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  for (int i = 0; i < options_.coordinators; ++i) {
    const int port = PickFreePort();
    if (port == 0) return absl::InternalError("no free port");
    coordinator_addresses_.push_back(absl::StrCat("127.0.0.1:", port));
    std::vector<std::string> args = {
        absl::StrCat("--port=", port),
        absl::StrCat("--address_file=", directory_, "/coordinator-", i, ".addr"),
        "--state_store=" + options_.etcd_url, "--cluster_name=" + cluster_name};
    const std::vector<std::string> common = CoordinatorArgs();
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), options_.coordinator_args.begin(), options_.coordinator_args.end());
    coordinator_args_.push_back(args);
    coordinator_generations_.push_back(0);
    absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator =
        DaemonProcess::Start(RunfilePath("server/coordinator/ps_coordinator"), args,
                             absl::StrCat(directory_, "/coordinator-", i, ".log"));
    if (!coordinator.ok()) return coordinator.status();
    coordinators_.push_back(*std::move(coordinator));
    if (i == 0) {
      // The first leads: wait until it listens, so that the order of leadership is known.
      absl::StatusOr<std::string> address =
          WaitForAddressFile(absl::StrCat(directory_, "/coordinator-0.addr"), kStartTimeout,
                             coordinators_.back().get());
      if (!address.ok()) return address.status();
    }
  }
  coordinator_started_ = absl::Now();
  coordinator_address_ = absl::StrJoin(coordinator_addresses_, ",");
  return absl::OkStatus();
}

v1::Coordinator::Stub& LocalCluster::coordinator() {
  if (coordinators_.size() > 1 || !options_.etcd_url.empty()) {
    absl::StatusOr<std::string> serving =
        FindServingCoordinator(coordinator_address_, absl::Seconds(10), *options_.security);
    const std::string address = serving.ok() ? *serving : coordinator_addresses_.front();
    if (stub_ == nullptr || address != stub_address_) {
      stub_ = v1::Coordinator::NewStub(OpenFreshChannel(address, *options_.security));
      stub_address_ = address;
    }
  }
  return *stub_;
}

absl::StatusOr<int> LocalCluster::WaitForLeader(absl::Duration timeout, int not_index) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no coordinator serves");
  while (absl::Now() < give_up) {
    for (size_t i = 0; i < coordinator_addresses_.size(); ++i) {
      if (static_cast<int>(i) == not_index) continue;
      auto stub =
          v1::Coordinator::NewStub(OpenFreshChannel(coordinator_addresses_[i], *options_.security));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
      v1::ClusterStatus status;
      if (stub->GetClusterStatus(&context, {}, &status).ok()) return static_cast<int>(i);
    }
    absl::SleepFor(absl::Milliseconds(20));  // Polls: a failover is under way.
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no coordinator ", not_index >= 0 ? absl::StrCat("other than ", not_index, " ") : "",
      "served within ", absl::FormatDuration(timeout)));
}

absl::Status LocalCluster::RestartCoordinatorAt(int index) {
  coordinators_[index]->Signal(SIGKILL);
  coordinators_[index]->Wait(absl::Seconds(10));
  const int generation = ++coordinator_generations_[index];
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator = DaemonProcess::Start(
      RunfilePath("server/coordinator/ps_coordinator"), coordinator_args_[index],
      absl::StrCat(directory_, "/coordinator-", index, ".", generation, ".log"));
  if (!coordinator.ok()) return coordinator.status();
  coordinators_[index] = *std::move(coordinator);
  return absl::OkStatus();
}

absl::Status LocalCluster::StartMembers() {
  for (int i = 0; i < options_.servers; ++i) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> server = StartServer(i, 0);
    if (!server.ok()) return server.status();
    servers_.push_back(*std::move(server));
    server_generations_.push_back(0);
  }
  for (int i = 0; i < options_.servers; ++i) {
    absl::StatusOr<std::string> server_address = WaitForAddressFile(
        absl::StrCat(directory_, "/server-", i, ".addr"), kStartTimeout, servers_[i].get());
    if (!server_address.ok()) return server_address.status();
    server_addresses_.push_back(*server_address);
  }
  for (int i = 0; i < options_.workers; ++i) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> worker = StartWorker(i, 0);
    if (!worker.ok()) return worker.status();
    workers_.push_back(*std::move(worker));
    worker_generations_.push_back(0);
  }
  return WaitForMap(
             [&](const v1::ClusterMap& map) {
               return AliveServers(map) == options_.servers &&
                      AliveWorkers(map) == options_.workers &&
                      map.shards_size() == static_cast<int>(options_.num_shards);
             },
             kStartTimeout)
      .status();
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> LocalCluster::StartServer(int index,
                                                                         int generation) {
  const std::string name = generation == 0 ? absl::StrCat("server-", index)
                                           : absl::StrCat("server-", index, ".", generation);
  std::vector<std::string> args = {"--coordinator=" + coordinator_address_, "--port=0",
                                   absl::StrCat("--address_file=", directory_, "/", name, ".addr")};
  args.insert(args.end(), options_.server_args.begin(), options_.server_args.end());
  AppendOwnArgs(options_.per_server_args, index, args);
  return DaemonProcess::Start(RunfilePath("server/ps_server"), args,
                              absl::StrCat(directory_, "/", name, ".log"));
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> LocalCluster::StartWorker(int index,
                                                                         int generation) {
  const std::string name = generation == 0 ? absl::StrCat("worker-", index)
                                           : absl::StrCat("worker-", index, ".", generation);
  std::vector<std::string> args = {"--coordinator=" + coordinator_address_};
  args.insert(args.end(), options_.worker_args.begin(), options_.worker_args.end());
  AppendOwnArgs(options_.per_worker_args, index, args);
  return DaemonProcess::Start(RunfilePath("worker/ps_worker"), args,
                              absl::StrCat(directory_, "/", name, ".log"));
}

absl::Status LocalCluster::RestartWorker(int index) {
  workers_[index]->Signal(SIGKILL);
  workers_[index]->Wait(absl::Seconds(10));
  absl::StatusOr<std::unique_ptr<DaemonProcess>> worker =
      StartWorker(index, ++worker_generations_[index]);
  if (!worker.ok()) return worker.status();
  workers_[index] = *std::move(worker);
  return absl::OkStatus();
}

absl::Status LocalCluster::RestartCoordinator(int signal, absl::Duration down_for) {
  std::unique_ptr<DaemonProcess>& coordinator_process = coordinators_[0];
  coordinator_process->Signal(signal);
  coordinator_process->Wait(absl::Seconds(10));
  absl::SleepFor(down_for);  // The outage being simulated.
  const int generation = ++coordinator_generations_[0];
  const std::string address_file = absl::StrCat(directory_, "/coordinator.", generation, ".addr");
  std::vector<std::string> args = coordinator_args_[0];
  // Later flags win: the same port, so members find it where it was.
  args.push_back(
      absl::StrCat("--port=", coordinator_address_.substr(coordinator_address_.rfind(':') + 1)));
  args.push_back("--address_file=" + address_file);
  coordinator_started_ = absl::Now();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator =
      DaemonProcess::Start(RunfilePath("server/coordinator/ps_coordinator"), args,
                           absl::StrCat(directory_, "/coordinator.", generation, ".log"));
  if (!coordinator.ok()) return coordinator.status();
  coordinator_process = *std::move(coordinator);
  return WaitForAddressFile(address_file, kStartTimeout, coordinator_process.get()).status();
}

int LocalCluster::ServerIndex(const v1::ClusterMap& map, uint32_t server_id) const {
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.server_id() != server_id) continue;
    for (size_t i = 0; i < server_addresses_.size(); ++i) {
      if (server_addresses_[i] == server.address()) return static_cast<int>(i);
    }
  }
  return -1;
}

absl::Status LocalCluster::RestartServer(int index) {
  servers_[index]->Signal(SIGKILL);
  servers_[index]->Wait(absl::Seconds(10));
  const int generation = ++server_generations_[index];
  absl::StatusOr<std::unique_ptr<DaemonProcess>> server = StartServer(index, generation);
  if (!server.ok()) return server.status();
  // The old process's log stays in the run directory; AllLogs() shows the newest.
  servers_[index] = *std::move(server);
  absl::StatusOr<std::string> address =
      WaitForAddressFile(absl::StrCat(directory_, "/server-", index, ".", generation, ".addr"),
                         kStartTimeout, servers_[index].get());
  if (!address.ok()) return address.status();
  server_addresses_[index] = *address;
  return absl::OkStatus();
}

absl::StatusOr<int> LocalCluster::AddServer() {
  const int index = num_servers();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> server = StartServer(index, 0);
  if (!server.ok()) return server.status();
  servers_.push_back(*std::move(server));
  server_generations_.push_back(0);
  absl::StatusOr<std::string> address = WaitForAddressFile(
      absl::StrCat(directory_, "/server-", index, ".addr"), kStartTimeout, servers_[index].get());
  if (!address.ok()) return address.status();
  server_addresses_.push_back(*address);
  return index;
}

absl::StatusOr<v1::ClusterMap> LocalCluster::WaitForMap(
    const std::function<bool(const v1::ClusterMap&)>& done, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  v1::ClusterMap map;
  grpc::Status status;
  // With several coordinators a failover may end the watch: follow the serving one.
  do {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(give_up));
    v1::WatchClusterMapRequest request;  // known_epoch 0: the current map comes first.
    std::unique_ptr<grpc::ClientReader<v1::ClusterMap>> reader =
        coordinator().WatchClusterMap(&context, request);
    while (reader->Read(&map)) {
      if (done(map)) {
        context.TryCancel();
        reader->Finish();
        return map;
      }
    }
    status = reader->Finish();
  } while (coordinator_addresses_.size() > 1 && absl::Now() < give_up);
  return absl::DeadlineExceededError(absl::StrCat(
      "the cluster map did not reach the expected state within ", absl::FormatDuration(timeout),
      " (stream ended: ", status.error_message(), "); last map: ", map.ShortDebugString()));
}

std::string LocalCluster::AllLogs() const {
  std::string logs;
  const auto append = [&](const std::string& label, const DaemonProcess* process) {
    if (process != nullptr) absl::StrAppend(&logs, "=== ", label, " ===\n", process->ReadLog());
  };
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    append(coordinators_.size() == 1 ? std::string("coordinator") : absl::StrCat("coordinator-", i),
           coordinators_[i].get());
  }
  for (size_t i = 0; i < servers_.size(); ++i)
    append(absl::StrCat("server-", i), servers_[i].get());
  for (size_t i = 0; i < workers_.size(); ++i)
    append(absl::StrCat("worker-", i), workers_[i].get());
  return logs;
}

}  // namespace ps::testing
