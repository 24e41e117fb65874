// A localhost cluster of real daemons (coordinator, servers, workers) for integration tests.
// Every process is reaped when the cluster is destroyed, also when the test fails. One thread only.
#ifndef PS_TESTS_HARNESS_LOCAL_CLUSTER_H_
#define PS_TESTS_HARNESS_LOCAL_CLUSTER_H_

#include <signal.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/coordinator.grpc.pb.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {

// $PS_TEST_TIME_SCALE (an integer >= 1, default 1): how much slower than usual the daemons under
// test run, e.g. 3 under AddressSanitizer on 2 cores (tests/run_sanitized.sh). LocalCluster
// stretches the heartbeat interval and failure timeout by it, so that a slow build is not
// mistaken for dead members.
int TestTimeScale();

struct LocalClusterOptions {
  int servers = 3;
  int workers = 2;
  uint32_t num_shards = 12;
  uint32_t replication_factor = 2;
  uint32_t heartbeat_interval_ms = 200;
  uint32_t failure_timeout_ms = 1000;
  // Appended to every ps_worker command line.
  std::vector<std::string> worker_args;
  // Then, for worker i < size(), these (e.g. its own certificate).
  std::vector<std::vector<std::string>> per_worker_args;
  // Appended to every ps_server command line.
  std::vector<std::string> server_args;
  // Then, for server i < size(), these (e.g. its own --metrics_port).
  std::vector<std::vector<std::string>> per_server_args;
  // Appended to the ps_coordinator command line.
  std::vector<std::string> coordinator_args;
  // With etcd (e.g. TestEtcd::url()): `coordinators` coordinators share it
  // (--state_store=URL, a cluster name of their own, fixed free ports), one leads; members get
  // every address. Empty: one coordinator, as configured by coordinator_args.
  std::string etcd_url;
  int coordinators = 1;
  // The test's own channels to the coordinator (an admin's certificate when the daemons run
  // with TLS).
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
};

class LocalCluster {
 public:
  // Starts the coordinator (placement once every server has registered), then the servers and
  // workers, and waits until the map shows all of them alive and the shards placed.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(const LocalClusterOptions& options);

  // The options as started: heartbeat_interval_ms and failure_timeout_ms multiplied by
  // TestTimeScale(), so tests should take timing from here rather than from what they passed.
  const LocalClusterOptions& options() const { return options_; }
  // host:port of the coordinator; with several, all of them, comma-separated (what members get).
  const std::string& coordinator_address() const { return coordinator_address_; }
  // A stub to the coordinator; with several, to the one serving now (found afresh per call,
  // waiting up to 10 s for one; if none serves, calls go to the first address and fail).
  v1::Coordinator::Stub& coordinator();
  DaemonProcess& coordinator_process() { return *coordinators_[0]; }

  // Several coordinators (etcd_url): the number, one's process and fixed address, and which one
  // serves (answers GetClusterStatus) now, waiting up to `timeout` for one other than `not`.
  // Errors: DeadlineExceeded.
  int num_coordinators() const { return static_cast<int>(coordinators_.size()); }
  DaemonProcess& coordinator_process(int index) { return *coordinators_[index]; }
  const std::string& coordinator_address(int index) const { return coordinator_addresses_[index]; }
  absl::StatusOr<int> WaitForLeader(absl::Duration timeout, int not_index = -1);
  // Starts coordinator `index` again (SIGKILLing it first if it still runs) with the same
  // arguments, logging to coordinator-INDEX.GENERATION.log; it stands by until it leads.
  absl::Status RestartCoordinatorAt(int index);
  DaemonProcess& server(int index) { return *servers_[index]; }
  // host:port server `index` advertises (and registered with).
  const std::string& server_address(int index) const { return server_addresses_[index]; }
  DaemonProcess& worker(int index) { return *workers_[index]; }
  int num_servers() const { return static_cast<int>(servers_.size()); }
  // The index of the server process `map` lists as `server_id` (by address); -1 if none.
  int ServerIndex(const v1::ClusterMap& map, uint32_t server_id) const;

  // Starts server `index` again (after it died or was killed): a new process, a new address and,
  // once it registers, a new server id. Waits for its address file, not for its registration.
  absl::Status RestartServer(int index);

  // Starts one more server (index num_servers()) with the same arguments, as a late joiner;
  // waits for its address file, not for its registration. Returns its index.
  absl::StatusOr<int> AddServer();

  // Stops the coordinator with `signal` (SIGKILL: a crash), leaves it down for `down_for`, and
  // starts it again with the same arguments on the same port, logging to
  // coordinator.GENERATION.log; waits until it listens. It carries on the cluster only if it was
  // given a --state_dir (coordinator_args).
  absl::Status RestartCoordinator(int signal = SIGKILL,
                                  absl::Duration down_for = absl::ZeroDuration());

  // When the newest coordinator process was started (RestartCoordinator).
  absl::Time coordinator_started() const { return coordinator_started_; }

  // The directory holding every daemon's log and address file.
  const std::string& directory() const { return directory_; }

  // Starts worker `index` again (SIGKILLing it first if it still runs): a new process with the
  // same arguments, logging to worker-INDEX.GENERATION.log. Does not wait for it to register.
  absl::Status RestartWorker(int index);

  // Follows the coordinator's map stream until `done(map)` holds and returns that map.
  // Errors: DeadlineExceeded (with the last map seen) after `timeout`.
  absl::StatusOr<v1::ClusterMap> WaitForMap(const std::function<bool(const v1::ClusterMap&)>& done,
                                            absl::Duration timeout);

  // Every daemon's log, labelled, for failure messages.
  std::string AllLogs() const;

 private:
  explicit LocalCluster(const LocalClusterOptions& options);
  absl::Status StartAll();
  std::vector<std::string> CoordinatorArgs() const;
  absl::Status StartCoordinator();
  absl::Status StartCoordinatorsOnEtcd();
  absl::Status StartMembers();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> StartServer(int index, int generation);
  absl::StatusOr<std::unique_ptr<DaemonProcess>> StartWorker(int index, int generation);

  const LocalClusterOptions options_;
  std::string directory_;
  std::string coordinator_address_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::string stub_address_;
  std::vector<std::unique_ptr<DaemonProcess>> coordinators_;
  std::vector<std::string> coordinator_addresses_;
  std::vector<std::vector<std::string>> coordinator_args_;
  std::vector<int> coordinator_generations_;
  absl::Time coordinator_started_;
  std::vector<std::unique_ptr<DaemonProcess>> servers_;
  std::vector<std::string> server_addresses_;
  std::vector<int> server_generations_;
  std::vector<std::unique_ptr<DaemonProcess>> workers_;
  std::vector<int> worker_generations_;
};

// Members of `map` in state ALIVE.
int AliveServers(const v1::ClusterMap& map);
int AliveWorkers(const v1::ClusterMap& map);

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_LOCAL_CLUSTER_H_
