// The coordinator's state in etcd, for several coordinators of which one leads
// (leader_election.h): the serialized v1::CoordinatorState at /ps/<cluster>/state, with no lease
// (it outlives every leader).
//
// Every Save is fenced: one transaction writes only while the leader key still has this
// leader's create revision AND the state key still has the mod revision this store last read or
// wrote. So a deposed leader (or a second writer) can never overwrite a newer state; its Save
// fails instead, and ClusterState undoes the change it was about to publish.
//
// A call whose outcome is unknown (etcd unreachable, or no answer in time; the transaction may
// have committed) is resolved by reading the state back: CoordinatorState.generation grows with
// every change, so the value read equals the bytes written only if that write committed. Until
// it is resolved the Save retries with backoff (logging that etcd is unreachable), up to
// `give_up_after`.
//
// Thread-safety: safe for concurrent use (ClusterState serialises its saves anyway).
#ifndef PS_SERVER_COORDINATOR_ETCD_STATE_STORE_H_
#define PS_SERVER_COORDINATOR_ETCD_STATE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/state_store.h"

namespace ps {

// /ps/<cluster>/state and /ps/<cluster>/election. Nothing else may live under the election
// prefix: etcd takes every key there for a candidate.
std::string EtcdStateKey(const std::string& cluster);
std::string EtcdElectionName(const std::string& cluster);

// Errors: InvalidArgument for a name that could not be a key segment (empty, or with '/').
absl::Status ValidateClusterName(const std::string& cluster);

struct EtcdStateStoreOptions {
  std::string cluster = "default";
  // Retries of a save or load while etcd is unreachable: from `initial_backoff`, doubling up to
  // `max_backoff`, for at most `give_up_after` in all (the change is then undone). Shorter than
  // the members' failure timeout would be pointless: nothing is published meanwhile anyway.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Milliseconds(500);
  absl::Duration give_up_after = absl::Seconds(10);
  // Every this many saves, history older than `keep_revisions` revisions is compacted.
  int compact_every_saves = 100;
  int64_t keep_revisions = 100;
};

class EtcdStateStore final : public StateStore {
 public:
  // Called (on the saving thread) once a save finds that this coordinator no longer leads or
  // that someone else wrote the state: it must stop acting as leader.
  using DeposedCallback = std::function<void(const absl::Status& why)>;

  // `etcd` is borrowed and must outlive the store; `leader` is this coordinator's office.
  EtcdStateStore(EtcdClient& etcd, EtcdLeaderKey leader, const EtcdStateStoreOptions& options,
                 DeposedCallback on_deposed);

  // Also remembers the state's mod revision, which the next Save expects.
  // Errors: DataLoss for a value that does not parse; Unavailable after `give_up_after`.
  absl::StatusOr<std::optional<v1::CoordinatorState>> Load() override;

  // Errors: FailedPrecondition when deposed, Aborted when the state changed under this leader
  // (both also reported to the DeposedCallback); Unavailable when etcd stayed unreachable for
  // `give_up_after` (the change may be retried later); InvalidArgument for a state etcd refuses
  // (too large).
  absl::Status Save(const v1::CoordinatorState& state) override;

  std::string Describe() const override;

 private:
  // Reads the state key, retrying while etcd is unreachable until `give_up`.
  absl::StatusOr<std::optional<EtcdKeyValue>> ReadWithRetries(absl::Time give_up);
  void Compact(int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Deposed(absl::Status why);

  // Constant after construction.
  EtcdClient& etcd_;
  const EtcdLeaderKey leader_;
  const EtcdStateStoreOptions options_;
  const std::string key_;
  const DeposedCallback on_deposed_;

  absl::Mutex mu_;
  // The state key's mod revision as last read or written (0: absent).
  int64_t mod_revision_ ABSL_GUARDED_BY(mu_) = 0;
  int saves_since_compaction_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_ETCD_STATE_STORE_H_
