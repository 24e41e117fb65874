// Leader election among coordinators on etcd (v3election), with self-fencing.
//
// Each coordinator grants itself a lease (reading the TTL etcd actually granted), renews it
// every TTL/3 on a thread of its own, and campaigns with its advertised address as the value,
// so `etcdctl elect -l` and members' logs show who leads. Standbys wait in Campaign; when the
// leader's lease ends (crash: after the TTL; clean shutdown: at once, Resign + revoke) the
// oldest standby leads.
//
// Self-fencing. etcd refuses a deposed leader's writes (EtcdStateStore), but a leader that was
// paused (SIGSTOP, a long GC-like stall) or cut off from etcd can still answer from memory.
// So a leader serves only while its lease is surely alive: until TTL - TTL/3 after the
// *request* of the last renewal etcd answered with a TTL > 0 (LeaseFence). etcd cannot expire
// the lease before the full TTL after that request, so whatever this coordinator does while
// MayServe() holds, no other coordinator can lead at the same time.
//
// Losing the lease (a renewal answered TTL 0) or a refused fenced write (MarkDeposed) ends the
// leadership for good: AwaitLoss() returns and the process is expected to exit (see
// coordinator_runner.h for why exiting beats stepping down in place).
//
// Thread-safety: safe for concurrent use. Owns the renewal thread, started by the first lease
// grant in Lead() and joined by Resign() or the destructor; the resume callback runs on it.
#ifndef PS_SERVER_COORDINATOR_LEADER_ELECTION_H_
#define PS_SERVER_COORDINATOR_LEADER_ELECTION_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/lease_fence.h"

namespace ps {

struct LeaderElectionOptions {
  // The election's name (EtcdElectionName) and this candidate's value (its host:port).
  std::string election;
  std::string candidate;
  // Asked of etcd; etcd may grant more (1 s needs etcd's --election-timeout <= 666 ms).
  absl::Duration requested_ttl = absl::Seconds(1);
  // A campaign is re-issued this often (etcd withdraws the candidacy when the call ends; a
  // periodic re-issue also notices a lost lease while waiting).
  absl::Duration campaign_period = absl::Seconds(5);
  // Backoff while etcd is unreachable.
  absl::Duration retry_backoff = absl::Milliseconds(100);
};

class LeaderElection {
 public:
  using Clock = std::function<absl::Time()>;

  // `etcd` is borrowed and must outlive the election.
  LeaderElection(EtcdClient& etcd, const LeaderElectionOptions& options,
                 Clock clock = [] { return absl::Now(); });
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;
  // Stops renewing (the lease then expires on its own unless Resign() revoked it).
  ~LeaderElection();

  // `on_resume` runs on the renewal thread when a renewal succeeds after MayServe() had turned
  // false (etcd was unreachable for 2/3 of the TTL), before it turns true again: the leader
  // refused every heartbeat meanwhile, so it must give members time (ClusterState::GrantGrace)
  // before its failure detector may act again.
  void SetResumeCallback(std::function<void()> on_resume) {
    absl::MutexLock lock(&mu_);
    on_resume_ = std::move(on_resume);
  }

  // Blocks until this candidate leads and returns its office: grants a lease (again whenever
  // the lease is lost while waiting), starts renewing it, and campaigns, retrying while etcd is
  // unreachable and logging that it does. Errors: Cancelled once Stop() was called.
  absl::StatusOr<EtcdLeaderKey> Lead();

  // The TTL etcd granted (zero before the first grant).
  absl::Duration granted_ttl() const;

  // Whether this coordinator leads and its lease is surely still alive now (self-fencing).
  bool MayServe() const;

  // Ends the leadership for good (a fenced write was refused): MayServe() turns false.
  void MarkDeposed(const absl::Status& why);

  // Blocks until the leadership is lost (the lease expired, or MarkDeposed) or Stop(); returns
  // why, or Cancelled after Stop().
  absl::Status AwaitLoss();

  // Ends Lead() and AwaitLoss() (Cancelled).
  void Stop();

  // Clean hand-over: Stop(), then delete the leader key and revoke the lease, so a standby
  // leads at once instead of after the TTL. Best effort (logged); call once, at shutdown.
  void Resign();

 private:
  void RenewLoop();
  absl::Status GrantLease() ABSL_LOCKS_EXCLUDED(mu_);
  // Sleeps until `deadline` or Stop(); false once stopping.
  bool WaitUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  EtcdClient& etcd_;
  const LeaderElectionOptions options_;
  const Clock clock_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The current lease (0: none; a new one is granted when it is lost).
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration ttl_ ABSL_GUARDED_BY(mu_);
  LeaseFence fence_ ABSL_GUARDED_BY(mu_);
  std::optional<EtcdLeaderKey> office_ ABSL_GUARDED_BY(mu_);
  // Set once the leadership (or, before it, the lease) is lost.
  std::optional<absl::Status> lost_ ABSL_GUARDED_BY(mu_);
  bool renewing_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_resume_ ABSL_GUARDED_BY(mu_);

  std::thread renew_thread_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_LEADER_ELECTION_H_
