// Checkpoints, as the coordinator drives them: periodic (--checkpoint_interval_s seconds, or
// --checkpoint_every_steps steps of the job's slowest rank) and on demand
// (the Checkpoint rpc, psctl checkpoint). One checkpoint:
//   1. the catalog and map are taken; every BSP table gets a cut clock a little ahead of the
//      largest clock any of its shards' primaries has completed (DescribeShards), so that the
//      request reaches every shard before it gets there; each shard is copied the moment it
//      completes the cut (or at once if the job's workers have all left);
//   2. every server leading a shard writes its shards' files (ParameterServer.Checkpoint), in
//      parallel; a shard that had already passed its cut (ABORTED: steps faster than the round
//      trip) makes the attempt start over with a cut 4 times further ahead, up to 4 attempts;
//   3. the files are checked to cover every (table, shard) of the catalog exactly once, and the
//      manifest is written: from then on the checkpoint is complete (common/checkpoint);
//   4. older checkpoints beyond --checkpoint_keep are pruned.
// Any failure is logged and kept for psctl status; the earlier checkpoints are untouched, and
// training goes on (servers copy under the shard lock and write without it).
// What a checkpoint guarantees about consistency is in README.md, "Checkpoints".
//
// Plain logic: the servers are reached through a seam (ServerCheckpointClient), so tests drive
// it without processes. Thread-safety: safe for concurrent use; checkpoints run one at a time.
#ifndef PS_SERVER_COORDINATOR_CHECKPOINT_MANAGER_H_
#define PS_SERVER_COORDINATOR_CHECKPOINT_MANAGER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/coordinator.pb.h"
#include "proto/parameter_server.pb.h"
#include "server/coordinator/cluster_state.h"

namespace ps {

// The servers' checkpoint rpcs, by address.
class ServerCheckpointClient {
 public:
  virtual ~ServerCheckpointClient() = default;
  virtual absl::StatusOr<v1::DescribeShardsResponse> DescribeShards(const std::string& address,
                                                                    absl::Time deadline) = 0;
  virtual absl::StatusOr<v1::CheckpointResponse> Checkpoint(const std::string& address,
                                                            const v1::CheckpointRequest& request,
                                                            absl::Time deadline) = 0;
};

// Over gRPC (ParameterServer stubs on fresh channels).
// Over channels secured as `security` says.
std::unique_ptr<ServerCheckpointClient> NewGrpcServerCheckpointClient(
    std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext());

struct CheckpointOptions {
  // Root of the checkpoints (common/checkpoint/checkpoint_store.h); "" turns checkpoints off.
  std::string directory;
  // Between periodic checkpoints; zero: none by time.
  absl::Duration interval = absl::ZeroDuration();
  // Also one each time the job's slowest live rank has completed this many more steps (its
  // progress reports, ClusterState::SlowestLiveRankSteps); 0: none by steps.
  uint64_t every_steps = 0;
  // Complete checkpoints kept; >= 1.
  int keep = 3;
  // One checkpoint's limit, from the first request to the servers to the manifest.
  absl::Duration timeout = absl::Minutes(10);
};

// Errors: InvalidArgument naming the option.
absl::Status ValidateCheckpointOptions(const CheckpointOptions& options);

// Restores `state` (before any member registers) from the checkpoint `which` names under
// `root`: "latest" for the newest complete one, else an id or directory name
// (ParseCheckpointName); a damaged or incomplete candidate is logged, naming the file and the
// problem, and the next older complete one is used. Returns the checkpoint's id.
// Errors: InvalidArgument for a bad name or a checkpoint of another shard count; NotFound when
// no complete checkpoint qualifies.
absl::StatusOr<uint64_t> RestoreClusterState(ClusterState& state, const std::string& root,
                                             const std::string& which);

class CheckpointManager {
 public:
  // `state` and `client` are borrowed and must outlive the manager. `restored_from` is the
  // checkpoint the cluster was restored from (0: none): new ids continue above it.
  CheckpointManager(ClusterState& state, ServerCheckpointClient& client,
                    CheckpointOptions options, uint64_t restored_from = 0);
  ~CheckpointManager();
  CheckpointManager(const CheckpointManager&) = delete;
  CheckpointManager& operator=(const CheckpointManager&) = delete;

  // Starts the periodic checkpoints (if an interval is set).
  void Start();
  // Stops them, waiting for one in progress.
  void Stop();

  // Takes a checkpoint now (see the file comment); `reason` is for the log.
  absl::StatusOr<v1::CheckpointNowResponse> TakeCheckpoint(const std::string& reason);

  v1::CheckpointStatus Status() const;

 private:
  // One attempt, with BSP cuts `cut_lead` clocks ahead of the fastest shard.
  absl::StatusOr<v1::CheckpointNowResponse> Attempt(uint64_t id, uint64_t cut_lead,
                                                    absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void PeriodicLoop();

  ClusterState& state_;
  ServerCheckpointClient& client_;
  const CheckpointOptions options_;

  // Held for a whole checkpoint: one at a time.
  absl::Mutex run_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  uint64_t last_id_ ABSL_GUARDED_BY(run_mu_);

  mutable absl::Mutex mu_;
  v1::CheckpointStatus status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread periodic_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_CHECKPOINT_MANAGER_H_
