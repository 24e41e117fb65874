// The few etcd v3 calls the coordinator makes (KV, Lease, Election), as an interface: the state
// store's fencing and retries and the election's lease handling are plain logic that unit tests
// drive with an in-memory fake (etcd_fake.h), the way Envoy puts a seam in front of each
// network client. NewGrpcEtcdClient is the real one, over etcd's own gRPC API
// (third_party/etcd).
//
// Errors, for every call: Unavailable or DeadlineExceeded when etcd could not be reached or did
// not answer in time; the outcome of a write is then unknown (it may have committed). NotFound
// when the lease named does not exist (expired or revoked). Other codes as etcd answered.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef PS_SERVER_COORDINATOR_ETCD_CLIENT_H_
#define PS_SERVER_COORDINATOR_ETCD_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ps {

// A key's value and its revisions (etcd's per-key create/mod revisions).
struct EtcdKeyValue {
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

// The campaign key of the elected leader (v3electionpb.LeaderKey): `key` is
// `name`/<lease in hex>, `create_revision` its create revision. The leader holds the office while
// that key exists with that create revision; writes fence on it.
struct EtcdLeaderKey {
  std::string name;
  std::string key;
  int64_t create_revision = 0;
  int64_t lease = 0;
};

struct EtcdLease {
  int64_t id = 0;
  // What etcd granted, which may exceed what was asked (etcd raises a TTL below 1.5 election
  // timeouts without saying so).
  absl::Duration ttl;
};

// The outcome of a GuardedPut.
struct EtcdGuardedPutResult {
  // The guard held and the value was written.
  bool succeeded = false;
  // On success: the store's revision after the write, i.e. the key's new mod revision.
  int64_t revision = 0;
  // On failure: whether the leader key still exists with the leader's create revision (false:
  // the caller was deposed), and the key's current value (nullopt: absent).
  bool leader_key_holds = false;
  std::optional<EtcdKeyValue> current;
};

class EtcdClient {
 public:
  virtual ~EtcdClient() = default;

  // The key's value, or nullopt when it does not exist. Linearizable.
  virtual absl::StatusOr<std::optional<EtcdKeyValue>> Get(const std::string& key) = 0;

  // One transaction: if `leader`'s key still has its create revision and `key`'s mod revision is
  // `expected_mod_revision` (0: the key must not exist), put `value` at `key` (no lease);
  // otherwise read the leader key and `key`, to tell "deposed" from "changed by someone else".
  virtual absl::StatusOr<EtcdGuardedPutResult> GuardedPut(const EtcdLeaderKey& leader,
                                                          const std::string& key,
                                                          int64_t expected_mod_revision,
                                                          const std::string& value) = 0;

  // Discards the history before `revision` (every write leaves a revision behind).
  virtual absl::Status Compact(int64_t revision) = 0;

  // A new lease of (at least) `ttl`, whole seconds.
  virtual absl::StatusOr<EtcdLease> GrantLease(absl::Duration ttl) = 0;

  // Renews `lease` once; returns its TTL from now, or zero when the lease no longer exists
  // (etcd answers a renewal of an expired lease with TTL 0, not an error). Gives up at
  // `deadline`.
  virtual absl::StatusOr<absl::Duration> KeepAlive(int64_t lease, absl::Time deadline) = 0;

  // Ends `lease` now, deleting the keys attached to it.
  virtual absl::Status RevokeLease(int64_t lease) = 0;

  // Puts `value` under election `name` with `lease` and waits until it is the oldest candidate,
  // i.e. leads; gives up at `deadline` (DeadlineExceeded; etcd then withdraws the candidacy) or
  // when CancelCampaign() is called (Cancelled). NotFound: the lease does not exist.
  virtual absl::StatusOr<EtcdLeaderKey> Campaign(const std::string& name, int64_t lease,
                                                 const std::string& value,
                                                 absl::Time deadline) = 0;

  // Ends every Campaign in progress with Cancelled (for shutdown and a lost lease).
  virtual void CancelCampaign() = 0;

  // Gives up leadership: deletes the leader key if it still is `leader`'s. OK also when it was
  // already gone.
  virtual absl::Status Resign(const EtcdLeaderKey& leader) = 0;
};

// etcd endpoints from --state_store: "etcd://HOST:PORT[,HOST:PORT...]".
// Errors: InvalidArgument naming what is wrong (no scheme, an empty list, a missing or bad port).
absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(const std::string& url);

struct GrpcEtcdClientOptions {
  // host:port of each etcd member; calls go to one and move to the next when it is unreachable.
  std::vector<std::string> endpoints;
  // Deadline of each unary call (not Campaign, not KeepAlive: their callers pass one).
  absl::Duration call_timeout = absl::Seconds(2);
};

// The real client. Calls wait for the channel to connect until their deadline
// (wait_for_ready): a fail-fast call on a channel whose first connection was refused can keep
// failing for 10-15 s after etcd is back (gRPC 1.51).
std::unique_ptr<EtcdClient> NewGrpcEtcdClient(const GrpcEtcdClientOptions& options);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_ETCD_CLIENT_H_
