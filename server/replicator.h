// Sends a primary's log entries to the other replicas of its shards: one Replicate frame per
// target server, all in flight together through gRPC's callback API (no thread waits for an
// answer), payloads forwarded as the slices they arrived in (no copy).
//
// Thread-safety: safe for concurrent use. `done` runs once, on a gRPC thread, after every request
// of the batch answered or failed.
#ifndef PS_SERVER_REPLICATOR_H_
#define PS_SERVER_REPLICATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/transport_security.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "proto/parameter_server.pb.h"

namespace ps {

// One Replicate request being built for one target server.
struct ReplicationRequest {
  uint32_t server_id = 0;
  std::string address;
  v1::ReplicateRequest header;
  // Keys and values of the entries' slices, in entry order.
  std::vector<grpc::Slice> payload;
};

// How one request ended.
struct ReplicationResult {
  uint32_t server_id = 0;
  // The shards its entries belong to (for a failure report).
  std::vector<uint32_t> shard_ids;
  absl::Status status;
};

class Replicator {
 public:
  // Calls time out after `timeout`; channels are secured as `security` says.
  explicit Replicator(
      absl::Duration timeout,
      std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext())
      : timeout_(timeout), security_(std::move(security)) {}
  // Cancels the calls in flight and waits for their callbacks (the stubs' channels must outlive
  // them).
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Sends every request; `done` receives one result per request, in request order.
  void Send(std::vector<ReplicationRequest> requests,
            std::function<void(std::vector<ReplicationResult>)> done);

 private:
  grpc::GenericStub& StubFor(const std::string& address);

  const absl::Duration timeout_;
  const std::shared_ptr<const TransportSecurity> security_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_REPLICATOR_H_
