// The client library a training loop programs against: create or look up tables, push
// gradients, pull parameters, advance the clock. It routes every call by the cluster map: one
// request per server holding all of that server's shards, requests to different servers in flight
// together, and a transparent refresh-and-retry when the map changes under a call (a retried push
// keeps its sequence number, so the server applies it exactly once).
//
// Threading contract: the data-plane calls (Push*, Pull*, PushPull, AdvanceClock) belong to one
// training thread; call them from one thread at a time. CreateTable, LookupTable, stats(),
// clock() and the identity accessors are safe from any thread. A background thread follows the
// cluster map and heartbeats for the worker.
//
// Example (see README.md):
//   PsClientOptions options;
//   options.coordinator_address = "127.0.0.1:7070";
//   auto client = PsClient::Connect(options);            // registers as a worker
//   v1::TableSpec spec;  /* name, kind, size, optimizer, consistency */
//   auto table = (*client)->CreateTable(spec);            // idempotent
//   std::vector<float> weights(spec.dense_size()), gradient(spec.dense_size());
//   for (int step = 0; step < steps; ++step) {
//     (*client)->Pull(*table, absl::MakeSpan(weights));  // waits as BSP/SSP require
//     ComputeGradient(weights, &gradient);
//     (*client)->Push(*table, gradient);
//     (*client)->AdvanceClock();
//   }
#ifndef PS_WORKER_CLIENT_PS_CLIENT_H_
#define PS_WORKER_CLIENT_PS_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/coordinator_session.h"
#include "common/transport_security.h"
#include "grpcpp/support/slice.h"
#include "proto/coordinator.grpc.pb.h"
#include "proto/types.pb.h"
#include "worker/client/keys_by_shard.h"
#include "worker/client/operation.h"
#include "worker/client/operation_executor.h"
#include "worker/client/server_transport.h"
#include "worker/client/session_map_source.h"

namespace ps {

struct PsClientOptions {
  // host:port of the coordinator, or of every coordinator, comma-separated (the session finds
  // the leader; common/coordinator_session.h).
  std::string coordinator_address;
  // Read-only client (tools, tests checking results): not registered as a worker, so BSP and SSP
  // never wait for it; it cannot push.
  bool observer = false;
  // Connect() waits until at least this many workers are alive: the start barrier of a job whose
  // workers must all count from clock 0 (BSP, SSP). Not when the coordinator says the job is
  // under way (a restarted worker rejoining it).
  int wait_for_workers = 0;
  // How long Connect() keeps trying to reach the coordinator (and to see wait_for_workers).
  absl::Duration connect_timeout = absl::Seconds(30);
  // Deadline of one Push or Pull including its retries. A pull waiting longer for slow workers
  // fails with DEADLINE_EXCEEDED.
  absl::Duration request_timeout = absl::Seconds(60);
  // How servers send pulled values: F32, or F16 (half the bytes, values rounded to half
  // precision).
  v1::Encoding pull_encoding = v1::ENCODING_F32;
  // A push of at least this many bytes to one server, over several of its shards, goes as a
  // stream of one message per shard, which the server applies as they arrive (PushStream in
  // proto/parameter_server.proto). 0: never.
  uint64_t stream_push_bytes = uint64_t{8} << 20;
  // A request of at least this many bytes to one server, over several of its shards, is split
  // over up to `connections_per_server` TCP connections to it, so that encryption and decryption
  // run on as many threads at both ends. 0: automatic, kTlsConnectionsPerServer when `security`
  // is TLS, else 1: in plaintext one connection moves more than several on the machines we
  // measured (tests/bench/tls_bench), with TLS four move about 15% more than one.
  uint64_t spread_bytes = uint64_t{4} << 20;
  uint32_t connections_per_server = 0;
  // How the channels to the coordinator and the servers are secured.
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
};

// One shard's part of a gradient, encoded for the wire.
struct EncodedValues {
  v1::TensorHeader header;
  grpc::Slice payload;
};

// Encodes ranges of a dense gradient, for PsClient::Push to send compressed (see
// common/codec/compression.h). The encoder may keep state between pushes (error-feedback
// residuals): Push calls Encode once per shard range per push, and a retried request resends
// the same bytes.
class GradientEncoder {
 public:
  virtual ~GradientEncoder() = default;
  // The payload carrying gradient values [begin, begin + count).
  virtual absl::StatusOr<EncodedValues> Encode(uint64_t begin, uint64_t count) = 0;
};

// Cumulative traffic of a client.
struct ClientStats {
  // Payload bytes (keys and values, as encoded) sent by pushes and received by pulls.
  uint64_t bytes_pushed = 0;
  uint64_t bytes_pulled = 0;
  // What the same payloads take as float32 values: bytes_pushed / dense_equivalent_bytes_pushed
  // is the inverse compression ratio.
  uint64_t dense_equivalent_bytes_pushed = 0;
  uint64_t dense_equivalent_bytes_pulled = 0;
  // Time spent inside Pull calls (network plus waiting for slower workers) and Push calls.
  absl::Duration pull_time;
  absl::Duration push_time;
  // Time spent inside PushPull calls (the push, then the pull's wait, in one round trip).
  absl::Duration push_pull_time;
  // Of the times above, what the servers said they spent: handling pushes (validation, apply,
  // replication) and holding pulls until slower workers reached their clock. The rest is
  // transfer and the client's own work.
  absl::Duration server_push_time;
  absl::Duration parked_time;
  // Requests re-sent after a map change or an unreachable server.
  uint64_t retries = 0;
};

inline constexpr uint32_t kTlsConnectionsPerServer = 4;

class PsClient {
 public:
  // Registers with the coordinator as a worker (or follows the map as an observer).
  // Errors: DeadlineExceeded when the coordinator or the awaited workers do not show up in time.
  static absl::StatusOr<std::unique_ptr<PsClient>> Connect(const PsClientOptions& options);
  // The same, reaching the servers through `transport` instead of gRPC.
  // REQUIRES: transport is not null.
  static absl::StatusOr<std::unique_ptr<PsClient>> Connect(
      const PsClientOptions& options, std::unique_ptr<ServerTransport> transport);

  PsClient(const PsClient&) = delete;
  PsClient& operator=(const PsClient&) = delete;
  // Leaves the cluster.
  ~PsClient();

  // Creates a table, or returns the existing one if an identical spec exists. Without the admin
  // role (TLS or tokens) it cannot create one: it waits up to connect_timeout for an admin to.
  // Errors: AlreadyExists for a different spec under the same name; InvalidArgument for a bad
  // spec; PermissionDenied when no admin created it in time.
  absl::StatusOr<v1::TableInfo> CreateTable(const v1::TableSpec& spec);
  // Errors: NotFound.
  absl::StatusOr<v1::TableInfo> LookupTable(const std::string& name);

  // Dense tables: pushes a gradient of the whole table (dense_size values) for the current clock.
  absl::Status Push(const v1::TableInfo& table, absl::Span<const float> gradient);
  // The same, with each shard's range encoded by `gradient` (compressed pushes).
  // Errors: what the encoder returns; those of Push.
  absl::Status Push(const v1::TableInfo& table, GradientEncoder& gradient);
  // Dense tables: reads the whole table into `values` (dense_size values), waiting as the table's
  // consistency model requires for a reader at the current clock.
  absl::Status Pull(const v1::TableInfo& table, absl::Span<float> values);
  // Sparse tables: pushes one gradient row (sparse_dim values) per key; repeated keys are summed.
  absl::Status PushSparse(const v1::TableInfo& table, absl::Span<const uint64_t> keys,
                          absl::Span<const float> gradients);
  // Sparse tables: reads one row per key into `values` (keys.size() * sparse_dim), creating rows
  // that do not exist yet with the table's initialiser.
  absl::Status PullSparse(const v1::TableInfo& table, absl::Span<const uint64_t> keys,
                          absl::Span<float> values);
  // One training step on a dense table in one round trip (the PushPull rpc): pushes `gradient`
  // for the current clock c, then reads the values at clock c + 1 + read_ahead, waiting as Pull
  // would; on success the clock has advanced to c + 1. read_ahead 1 reads for the step after
  // next, so that a pipelined trainer (worker/training/pipelined_parameters.h) can fetch them
  // while it computes; it needs ASP or SSP with staleness >= read_ahead (BSP: 0).
  // On error, as with Push, the push may or may not have been applied: do not push the same
  // gradient again (a retry inside the call is exactly once).
  // Errors: InvalidArgument for sizes or a read_ahead the table's consistency does not allow;
  // those of Push and Pull.
  absl::Status PushPull(const v1::TableInfo& table, absl::Span<const float> gradient,
                        absl::Span<float> values, uint64_t read_ahead = 0);
  // The same with each shard's range encoded by `gradient` (compressed pushes).
  absl::Status PushPull(const v1::TableInfo& table, GradientEncoder& gradient,
                        absl::Span<float> values, uint64_t read_ahead = 0);

  // Part of a training step on a dense table, for trainers that push a step's gradient in pieces
  // as it is computed (worker/training/bucketed_parameters.h): pushes the ranges of virtual shards
  // [first_shard, end_shard) of `gradient` for the current clock c, as one request per server
  // with its own sequence number, then reads those shards' values at clock c + 1 into the same
  // ranges of `values`, waiting as Pull would. The clock does not move: once every shard of the
  // step has been pushed exactly once (by calls with disjoint shard sets), the caller calls
  // AdvanceClock(). A shard pushed twice in one clock counts twice. `gradient` and `values` are
  // whole-table buffers (dense_size values); only the shards' ranges are read or written.
  // On error, as with Push, the push may or may not have been applied.
  // Errors: InvalidArgument for a table that is not dense, buffers of the wrong size or an empty
  // or out-of-range shard interval; those of Push and Pull.
  absl::Status PushPullShards(const v1::TableInfo& table, absl::Span<const float> gradient,
                              absl::Span<float> values, uint32_t first_shard, uint32_t end_shard);

  // The number of virtual shards tables are split into (DenseShardRange, common/partition.h); it
  // never changes while the cluster runs.
  uint32_t num_shards() const;

  // Ends this worker's clock: its next pushes belong to clock() + 1.
  void AdvanceClock() { clock_.fetch_add(1); }
  // Sets the clock the next pushes belong to.
  void SetClock(uint64_t clock) { clock_.store(clock); }
  // BSP tables: joins the job's clock: reads the table's shards once every server counts this
  // worker in (PullRequest.membership_version), sets this worker's clock to the largest clock
  // any shard has completed and returns it. The first push then joins every shard at that clock
  // (proto/parameter_server.proto, PushRequest.clock): the shards behind it complete the clocks
  // before it without this worker. Call before the first push: 0 for a new job, the cut's clock
  // for a job restored from a checkpoint, the others' clock for a restarted worker. Until that
  // first push, this worker's pulls read at the smallest shard clock any join saw instead of its
  // clock: a shard one clock behind waits for the joiner's first push (a live worker that has not
  // pushed is waited for at every clock), so a read at the join clock would wait forever there.
  // Errors: InvalidArgument for a table that is not BSP; FailedPrecondition for an observer or
  // after a push; those of Pull.
  absl::StatusOr<uint64_t> JoinBspClock(const v1::TableInfo& table);
  uint64_t clock() const { return clock_.load(); }

  // 0 for observers.
  uint32_t worker_id() const { return session_->member_id(); }
  uint64_t incarnation() const { return session_->incarnation(); }
  // The data partition the coordinator assigned (workers).
  uint32_t rank() const { return session_->rank(); }
  // Steps the rank completed before this worker joined (CoordinatorSession::resume_steps).
  uint64_t resume_steps() const { return session_->resume_steps(); }
  // Reports the steps this worker's rank has completed (with its heartbeats).
  void ReportProgress(uint64_t steps_done) { session_->set_steps_done(steps_done); }
  // How training goes (status page, psctl workers, stragglers), sent with every heartbeat from
  // now on.
  void ReportTraining(const v1::WorkerProgress& progress) { session_->set_progress(progress); }
  // Workers alive in the newest map.
  int live_workers() const;
  ClientStats stats() const;

  // Leaves the cluster now (the destructor does it otherwise), saying whether this worker
  // `finished` its rank's share of the job (CoordinatorSession::Leave). Idempotent.
  void Leave(bool finished = false);

 private:
  PsClient(const PsClientOptions& options, std::unique_ptr<CoordinatorSession> session,
           std::unique_ptr<ServerTransport> transport);

  // Checks that `table` has `kind` and that the caller's buffer holds `expected_values`, and
  // starts an operation on it. Errors: InvalidArgument.
  // Adds one part per shard in [first_shard, end_shard) of a dense push of `table` to `op`, each
  // shard's values from encode(begin, count). Errors: the encoder's, naming the shard.
  absl::Status AddDensePushParts(
      const v1::TableInfo& table, Operation& op,
      const std::function<absl::StatusOr<EncodedValues>(uint64_t, uint64_t)>& encode,
      uint32_t first_shard, uint32_t end_shard) const;
  // Points the parts of a dense push at `values` for the pull that follows and runs it; the
  // caller advances the clock.
  absl::Status ExecutePushPull(const v1::TableInfo& table, Operation& op, absl::Span<float> values,
                               uint64_t read_ahead);
  absl::StatusOr<Operation> BeginOperation(const v1::TableInfo& table, v1::TableKind kind,
                                           bool push, size_t num_values,
                                           uint64_t expected_values) const;
  // The coordinator's answer, without waiting for a map that lists the table.
  absl::StatusOr<v1::TableInfo> LookupTableNow(const std::string& name);
  // Waits until the map lists `table` so that requests carry a catalog version that names it.
  absl::StatusOr<v1::TableInfo> AwaitTable(const v1::TableInfo& table);
  // Numbers `op` (a push gets the next seq), stamps the clock and has the executor send it to
  // the primaries of its shards (see operation_executor.h); adds its traffic to the stats.
  // `max_shard_clock` and `min_shard_clock`, if set, receive a pull's largest and smallest
  // shard clocks.
  absl::Status Execute(Operation& op, uint64_t* max_shard_clock = nullptr,
                       uint64_t* min_shard_clock = nullptr);

  // Constant after construction.
  const PsClientOptions options_;
  const std::unique_ptr<CoordinatorSession> session_;
  const std::unique_ptr<ServerTransport> transport_;
  SessionMapSource map_source_;  // Reads session_.

  std::atomic<uint64_t> clock_{0};

  // Used by the training thread only (data-plane calls).
  // Per-client push sequence number (the server's dedupe key with worker id and incarnation).
  uint64_t seq_ = 0;
  // The smallest shard clock JoinBspClock saw: pulls read at it until the first push.
  uint64_t join_read_clock_ = std::numeric_limits<uint64_t>::max();
  OperationExecutor executor_;  // Sends through transport_, routes by map_source_.
  // PushSparse and PullSparse group their keys here; the memory stays for the next call.
  KeysByShard keys_by_shard_;

  mutable absl::Mutex stats_mu_;
  ClientStats stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_PS_CLIENT_H_
