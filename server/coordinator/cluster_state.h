// The coordinator's authoritative state: members, their liveness, shard placement with
// re-replication, and the cluster map with its three version counters. Plain logic with time
// passed in, so tests drive it with a fake clock and no network; the gRPC adapter
// (coordinator_service.h) and the failure detector call it.
//
// Versions: `epoch` bumps only when the shards part of the map changes (placement, a promotion, a
// replica or learner removed or added), `membership_version` on every change to servers or
// workers (join, leave, declared dead), `catalog_version` when a table is created. A member
// change that moves no shard (a worker, a spare server) therefore does not abort data-plane
// traffic, which is routed by epoch.
//
// Moves (rebalance.h): a drained server's replicas, and a share of the others' for a server that
// joined after placement, move a few at a time (ClusterOptions.max_concurrent_moves): the target
// becomes a learner of the shard, and when it reports that it caught up one map change adds it
// to the chain and removes the source. When the source is the primary, the change is made in two
// steps so that no replica diverges: the caught-up learner joins as the last backup and the shard
// is sealed (the primary takes no new push); once the primary reports that every replica holds
// every entry it sent (ReportHandoffReady), the next map removes it and another replica leads. A
// move whose learner or source is removed (a failure) is dropped, its seal lifted;
// re-replication takes it from there.
//
// Re-replication: after every change that can leave a shard short (a server dead or gone, a
// reported replica failure, a server joining), every shard whose chain is non-empty and whose
// replicas plus learners number fewer than R gets learners on the least-loaded live servers
// (placement.h AddLearners). A learner joins the chain when it reports that it caught up. A shard
// whose chain emptied is unavailable for good: there is nothing to copy from.
//
// Persistence: every change goes to the state sink (a state store) before anyone can see it, and
// a coordinator restarted on the saved state (Resume) carries on the same cluster: same members,
// placement, catalog and versions, so epochs never go backwards.
//
// Thread-safety: safe for concurrent use; WaitForNewerMap() blocks the caller, and the sink runs
// under the state's lock (changes are saved in the order they are made).
#ifndef PS_SERVER_COORDINATOR_CLUSTER_STATE_H_
#define PS_SERVER_COORDINATOR_CLUSTER_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/checkpoint.pb.h"
#include "proto/coordinator.pb.h"
#include "proto/coordinator_state.pb.h"
#include "proto/types.pb.h"
#include "server/coordinator/placement.h"
#include "server/coordinator/rebalance.h"

namespace ps {

struct ClusterOptions {
  // S: virtual shards per table, fixed for the cluster's life.
  uint32_t num_shards = 16;
  // R: replicas per shard, on distinct servers.
  uint32_t replication_factor = 2;
  // Placement is made once this many servers are alive. Must be >= replication_factor.
  uint32_t min_servers = 2;
  absl::Duration heartbeat_interval = absl::Milliseconds(200);
  // A member silent this long is declared dead.
  absl::Duration failure_timeout = absl::Seconds(1);
  // Replica moves (drain, rebalancing) in flight at once: each copies one shard to a learner
  // while training goes on, so fewer moves disturb training less and take longer.
  uint32_t max_concurrent_moves = 2;
  // Give a server that joins a placed cluster (or is undrained) its share of replicas and
  // primaries. Off: it stays a spare until re-replication needs it. Drains move replicas either
  // way.
  bool rebalance = true;
  // A primary handing a shard over that has not reported it ready after this long is switched
  // anyway (ReportHandoffReady).
  absl::Duration handoff_timeout = absl::Seconds(3);
  // After a move completes, its slot stays free this long before the next move starts (at the
  // failure detector's next tick, TickMoves): moves then take a bounded share of the servers'
  // time, which keeps training throughput up while they run (scale_out_bench: 0.53-0.60 of the
  // throughput before without a pause, 0.74-0.82 with 500 ms). Zero: the next starts at once.
  absl::Duration move_pause = absl::Milliseconds(500);
};

// Errors: InvalidArgument naming the offending option.
absl::Status ValidateClusterOptions(const ClusterOptions& options);

// How long a server keeps serving after its last acknowledged heartbeat: 3/4 of the failure
// timeout, so it has stopped before the coordinator can declare it dead.
absl::Duration ServerLease(const ClusterOptions& options);

// What a member gets back from registering.
struct Registration {
  uint32_t id = 0;
  uint64_t incarnation = 0;
  // Workers only: the data partition, and the steps its rank completed already.
  uint32_t rank = 0;
  uint64_t steps_done = 0;
  // Workers: whether a worker of this cluster has reported progress (the job is under way).
  bool job_running = false;
  v1::ClusterMap map;
};

class ClusterState {
 public:
  // REQUIRES: ValidateClusterOptions(options).ok(). `start` seeds incarnation numbers, which are
  // unique across coordinator restarts as long as the clock moves forward.
  ClusterState(const ClusterOptions& options, absl::Time start);

  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // --- Persistence (server/coordinator/state_store.h) ---
  // Takes the whole state before every change is published: a change the sink refuses is
  // undone and the call that made it fails with Unavailable (a member retries; a sweep of the
  // failure detector tries again at its next tick). Progress reports alone are handed over at
  // most once a second (SaveProgressIfDue), so a restart may forget the last second of them: a
  // rank then redoes those steps.
  using StateSink = std::function<absl::Status(const v1::CoordinatorState&)>;
  // Set before any other call. Without one, the state lives in memory only.
  void SetStateSink(StateSink sink);
  // Takes up a saved state before any member registered: the same members (ids, incarnations,
  // states), placement, catalog, versions and job progress. Every member alive in it counts as
  // having just heartbeated (see GrantGrace). Does not call the sink.
  // Errors: FailedPrecondition once a member registered or a table exists; InvalidArgument when
  // the state's num_shards or replication_factor differ from the options.
  absl::Status Resume(const v1::CoordinatorState& saved, absl::Time now);
  // The state as the sink would take it now.
  v1::CoordinatorState Snapshot() const;
  // Hands the state to the sink now (after Resume or RestoreFrom, or to save the first state of
  // a new cluster). Errors: the sink's.
  absl::Status SaveNow();
  // Gives every live member two failure timeouts from `now` to heartbeat. A restarted
  // coordinator calls it once it listens. One timeout is what safety needs: a member's lease
  // (ServerLease) runs from a heartbeat the coordinator acknowledged or one refused because no
  // coordinator listened (common/coordinator_session.h), so no member can still be serving on
  // that credit when the grace ends. The second lets members whose connections are in reconnect
  // backoff come back before anyone is declared dead.
  void GrantGrace(absl::Time now);
  // Counts every member as having heartbeated at `now` (never earlier than it last did). For a
  // coordinator that was itself stalled (the failure detector's sweeps came late): heartbeats
  // sent meanwhile may still be queued unread, so the silence it measured may be its own. As
  // safe as GrantGrace: declaring a member dead later only delays a failover.
  void RestartSilenceClocks(absl::Time now);
  // Hands progress reports received since the last save to the sink if a second has passed.
  void SaveProgressIfDue(absl::Time now);
  // The checkpoint the cluster was restored from (0: none), also after a Resume.
  uint64_t restored_from() const;

  // Adds a live server (bumping the membership version) and, once min_servers are alive for the
  // first time, places the shards; after placement the server is a spare that re-replication may
  // give learner roles. Either bumps the epoch. Errors: InvalidArgument for an address that is not
  // host:port.
  absl::StatusOr<Registration> RegisterServer(const std::string& address, absl::Time now);

  // Adds a live worker with the lowest rank no live worker holds and no worker finished in the
  // running job (bumping the membership version, not the epoch).
  absl::StatusOr<Registration> RegisterWorker(const std::string& address, absl::Time now);

  // Records that `member` is alive at `now` and, for a worker, the steps its rank completed (the
  // largest report per rank is kept); returns the current epoch.
  // Errors: NotFound when the member is unknown or was declared dead (it must register again).
  absl::StatusOr<uint64_t> Heartbeat(const v1::MemberRef& member, uint64_t known_epoch,
                                     absl::Time now, uint64_t steps_done = 0);

  // --- Checkpoints ---
  // Takes up a checkpoint before any member registered: its catalog (same table ids and specs),
  // its ranks' progress, an epoch above its epoch and ids and incarnations above its own (so
  // that the log terms, exactly-once records and SSP clocks in its files never match the new
  // cluster's), and map.restore, which tells servers to load their shards from `directory`.
  // Errors: FailedPrecondition once a member registered or a table exists; InvalidArgument when
  // the checkpoint's num_shards differs from this cluster's; Unavailable when the sink refused it.
  absl::Status RestoreFrom(const v1::CheckpointManifest& manifest, const std::string& directory);
  // The fewest steps any live worker's rank has completed (its progress reports); nullopt when
  // no live worker has reported any.
  std::optional<uint64_t> SlowestLiveRankSteps() const;
  // The fields of a manifest the coordinator knows: counters (epoch, ids, incarnations), the
  // catalog and each rank's progress.
  void FillManifest(v1::CheckpointManifest* manifest) const;

  // Marks `member` dead at once (bumping the membership version; for a server holding shards also
  // the epoch, after promotions and re-replication). A worker that `finished` its rank's share
  // retires the rank for the job (LeaveRequest.finished). Returns the current epoch.
  // Errors: NotFound as Heartbeat.
  absl::StatusOr<uint64_t> Leave(const v1::MemberRef& member, bool finished = false);

  // Declares dead every live member whose last heartbeat is older than now - failure_timeout,
  // removes dead servers from replica chains (promoting backups) and learner lists, re-replicates,
  // and bumps the membership version once, and the epoch once if any shard changed. Returns the
  // members declared dead.
  std::vector<v1::MemberRef> ExpireSilentMembers(absl::Time now);

  // Adds a table to the catalog (bumping the catalog version, not the epoch). Returns the table
  // and whether it was created; an identical spec under the same name returns the existing table.
  // Errors: InvalidArgument for an invalid spec; AlreadyExists for a different spec under the
  // same name; Unavailable when the sink refused the change.
  absl::StatusOr<std::pair<v1::TableInfo, bool>> CreateTable(const v1::TableSpec& spec);

  // Errors: NotFound.
  absl::StatusOr<v1::TableInfo> DescribeTable(const std::string& name) const;

  // --- Drain ---
  struct DrainProgress {
    uint64_t epoch = 0;
    // Replicas (primaries included) and primaries the server holds in the current map.
    uint32_t replicas_held = 0;
    uint32_t primaries_held = 0;
  };
  // Marks a live server draining (bumping the membership version): it stops being a learner,
  // gets no new replica, and its replicas move away (see the file comment). Returns where it
  // stands; a server already draining changes nothing.
  // Errors, changing nothing: NotFound for an id that is not a live server; FailedPrecondition
  // when fewer than R servers that are not draining would be left; Unavailable when the sink
  // refused the change.
  absl::StatusOr<DrainProgress> Drain(uint32_t server_id);
  // A sealed shard's primary is ready to hand it over: completes the move (see the file comment),
  // bumping the epoch. Returns the epoch; a report for a shard the reporter is not handing over
  // (a retry, or a move a failure cancelled) changes nothing.
  // Errors, changing nothing: NotFound for a reporter that is not a live server;
  // InvalidArgument for a shard id >= num_shards; Unavailable when the sink refused the change.
  absl::StatusOr<uint64_t> ReportHandoffReady(const v1::ReportHandoffReadyRequest& request);
  // Called by the failure detector every tick: completes the handoffs whose primary has not
  // reported within options.handoff_timeout of this coordinator first seeing them sealed, and
  // starts the moves that options.move_pause held back once it has passed.
  void TickMoves(absl::Time now);
  // Returns a draining server to service (rebalancing may give it replicas again). A server that
  // is not draining changes nothing. Errors: NotFound as Drain; Unavailable.
  absl::StatusOr<DrainProgress> Undrain(uint32_t server_id);

  // A live server someone could not reach (ReportUnreachable): its identity and address, and the
  // time at which its lease has surely lapsed (its last heartbeat + ServerLease()).
  struct Suspect {
    v1::MemberRef server;
    std::string address;
    absl::Time lease_lapsed;
  };
  // Errors: NotFound for a reporter that is not a live member; FailedPrecondition for a server
  // that is not alive (already declared dead, or never was).
  absl::StatusOr<Suspect> SuspectUnreachable(const v1::MemberRef& reporter,
                                             uint32_t server_id) const;
  // Declares `server` dead now, if that incarnation is still alive (re-replicating and publishing
  // as a timeout would). Returns whether it did.
  bool DeclareDead(const v1::MemberRef& server, const std::string& reason);

  // A primary could not replicate to request.failed_server_id(): removes that server from the
  // replicas and learners of request.shard_ids() (only those; it stays a live member), then
  // re-replicates, bumping the epoch once. Returns the new epoch, or the current one when the
  // failed server is already in none of those shards (a retried report), changing nothing.
  // Errors, changing nothing: NotFound when the reporter is not a live server incarnation;
  // InvalidArgument for no shard ids or one >= num_shards; FailedPrecondition when the reporter
  // names itself or is not the primary of every named shard in the current map.
  absl::StatusOr<uint64_t> ReportReplicaFailure(const v1::ReportReplicaFailureRequest& request);

  // A learner caught up: moves it from the shard's learners to the end of its replicas, bumping
  // the epoch. Returns the new epoch.
  // Errors, changing nothing: NotFound when the member is not a live server incarnation;
  // InvalidArgument for a shard id >= num_shards; FailedPrecondition when it is not a learner of
  // the shard; Aborted when request.catalog_version() is older than the catalog (the learner
  // must copy the newer tables, then report again).
  absl::StatusOr<uint64_t> ReportLearnerCaughtUp(const v1::ReportLearnerCaughtUpRequest& request);

  // The current map.
  v1::ClusterMap Map() const;

  // Waits until the map is newer than the caller's: its epoch, catalog version or membership
  // version exceeds the known one; returns that map. Returns nullopt at `deadline` or once
  // Shutdown() was called.
  std::optional<v1::ClusterMap> WaitForNewerMap(uint64_t known_epoch,
                                                uint64_t known_catalog_version,
                                                uint64_t known_membership_version,
                                                absl::Time deadline) const;

  // The map with per-member health as seen at `now`.
  v1::ClusterStatus Status(absl::Time now) const;

  // Wakes every WaitForNewerMap() caller; later calls return at once.
  void Shutdown();
  bool IsShutDown() const;

  const ClusterOptions& options() const { return options_; }

 private:
  struct Liveness {
    absl::Time last_heartbeat;
    uint64_t known_epoch = 0;
  };
  using MemberKey = std::pair<v1::MemberRef::Role, uint32_t>;
  // Everything a change may touch, in one value so that a change the state sink refused can be
  // undone whole (Commit()).
  struct Data {
    v1::ClusterMap map;
    // Empty until placement; then one entry per shard each. map.shards mirrors them as of the
    // last Commit().
    ReplicaChains chains;
    // Per shard: learner -> the epoch it was last made a learner at
    // (ShardAssignment.learner_epochs).
    std::vector<std::map<uint32_t, uint64_t>> learner_since;
    LearnerLists learners;
    std::map<MemberKey, Liveness> liveness;
    uint32_t next_server_id = 1;
    uint32_t next_worker_id = 1;
    uint64_t next_incarnation = 0;
    // Steps each rank completed (the largest reported, or restored).
    std::map<uint32_t, uint64_t> rank_progress;
    // A worker of this cluster reported progress (restored progress does not count).
    bool job_running = false;
    // Ranks handed out in the running job, and those whose worker finished its share of it. The
    // job is over once every rank handed out has finished and no worker is alive (a rank whose
    // worker died before it reported any progress is still unfinished).
    std::set<uint32_t> job_ranks;
    std::set<uint32_t> finished_ranks;
    // The checkpoint the cluster was restored from (0: none).
    uint64_t restored_from = 0;
    // Moves in flight, by shard (their targets are learners of the shard, or its last backup
    // while its primary hands it over).
    std::map<uint32_t, PlannedMove> moves;
    // Shards whose primary is handing them over (ShardAssignment.sealed).
    std::set<uint32_t> sealed;
  };

  // Finds the live member matching `member`'s role, id and incarnation.
  absl::Status CheckAlive(const v1::MemberRef& member) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CheckAlive() for a member that must be a server.
  absl::Status CheckAliveServer(const v1::MemberRef& member) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The helpers below change chains / learners and return whether they did; Commit() then
  // makes the change visible.
  // Marks the member dead, removing a server from its chains and learner lists.
  bool MarkDead(const MemberKey& key, const char* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Places the shards once min_servers are alive, the first time only.
  bool MaybePlaceShards() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds learners to the shards short of R (see the file comment) and logs each decision.
  bool ReReplicate(const LearnerLists* avoid = nullptr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops moves whose learner or source left the shard (lifting their seals), then starts the
  // next moves (drain, rebalancing) as learners unless options.move_pause holds them back, and
  // logs each. Returns whether the shards changed.
  bool StartMoves() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A move completed: with a move_pause, the next starts only after it (TickMoves).
  void NoteMoveDone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    move_done_unpaced_ = options_.move_pause > absl::ZeroDuration();
  }
  // Re-replication, then moves: what every change that can leave a shard short or a server
  // idle calls before it commits. Returns whether a learner was added.
  bool Reconcile(const LearnerLists* avoid = nullptr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool added = ReReplicate(avoid);
    return StartMoves() || added;
  }
  DrainProgress ProgressOf(uint32_t server_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the source of the shard's handing-over move from its chain, lifts the seal and
  // starts the next moves; then commits. `why` is for the log.
  absl::Status CompleteHandoff(uint32_t shard, const char* why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The live server `server_id`, or nullptr.
  v1::ServerInfo* LiveServer(uint32_t server_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies chains and learners into the map and bumps the epoch if `shards_changed`; bumps the
  // membership version if `membership_changed`; then hands the state to the sink. If the sink
  // refuses it, everything is put back as `before` and the sink's error (as Unavailable: the
  // caller may retry) returned; otherwise watchers wake when mu_ is released.
  absl::Status Commit(Data before, bool shards_changed, bool membership_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands the current state to the sink; logs a failure once (until one succeeds).
  absl::Status Save() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::CoordinatorState ToProto() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<uint32_t> AliveServers() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Alive servers not draining: those that may receive replicas.
  std::vector<uint32_t> TargetServers() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClusterOptions options_;

  mutable absl::Mutex mu_;
  Data s_ ABSL_GUARDED_BY(mu_);
  StateSink sink_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Progress reports since the last state the sink took (they are saved at most once a second,
  // not with every heartbeat).
  bool progress_unsaved_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time progress_saved_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The sink's last error, logged once until it recovers.
  std::string sink_error_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // When this coordinator first saw each sealed shard (TickMoves); not saved: a restarted
  // coordinator gives a handoff the full timeout again.
  std::map<uint32_t, absl::Time> seal_seen_ ABSL_GUARDED_BY(mu_);
  // Pacing (options.move_pause): a move completed since the last tick; no move starts before
  // `moves_paused_until_`, as of the last tick's time.
  bool move_done_unpaced_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time moves_paused_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_tick_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_CLUSTER_STATE_H_
