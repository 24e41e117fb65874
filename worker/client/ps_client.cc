#include "worker/client/ps_client.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/codec/compression.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "common/partition.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "worker/client/grpc_server_transport.h"

namespace ps {
namespace {

int AliveWorkerCount(const v1::ClusterMap& map) {
  return static_cast<int>(std::count_if(
      map.workers().begin(), map.workers().end(),
      [](const v1::WorkerInfo& worker) { return worker.state() == v1::MEMBER_STATE_ALIVE; }));
}

bool ListsTable(const v1::ClusterMap& map, uint32_t table_id) {
  return std::any_of(map.tables().begin(), map.tables().end(),
                     [&](const v1::TableInfo& table) { return table.table_id() == table_id; });
}

OperationExecutorOptions ExecutorOptions(const PsClientOptions& options,
                                         const CoordinatorSession& session) {
  OperationExecutorOptions executor;
  executor.sender.worker_id = session.member_id();
  executor.sender.incarnation = session.incarnation();
  executor.observer = options.observer;
  executor.request_timeout = options.request_timeout;
  executor.pull_encoding = options.pull_encoding;
  executor.stream_push_bytes = options.stream_push_bytes;
  executor.spread_bytes = options.spread_bytes;
  executor.connections_per_server = options.connections_per_server != 0
                                        ? options.connections_per_server
                                    : options.security->tls() ? kTlsConnectionsPerServer
                                                              : 1;
  return executor;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PsClient>> PsClient::Connect(const PsClientOptions& options) {
  return Connect(options, std::make_unique<GrpcServerTransport>(options.security));
}

absl::StatusOr<std::unique_ptr<PsClient>> PsClient::Connect(
    const PsClientOptions& options, std::unique_ptr<ServerTransport> transport) {
  CoordinatorSessionOptions session_options;
  session_options.coordinator_address = options.coordinator_address;
  session_options.role = v1::MemberRef::ROLE_WORKER;
  session_options.observer = options.observer;
  session_options.register_timeout = options.connect_timeout;
  session_options.security = options.security;
  absl::StatusOr<std::unique_ptr<CoordinatorSession>> session =
      CoordinatorSession::Start(session_options, nullptr, [](const absl::Status& status) {
        spdlog::error("the coordinator expelled this worker ({}); its pushes will be refused",
                      status.ToString());
      });
  if (!session.ok()) return session.status();
  if ((*session)->job_running()) {
    // A restarted rank joins a job under way: the others need not (and may no longer) be there.
    spdlog::info("the job is under way: not waiting for the other workers");
  } else if (options.wait_for_workers > 0) {
    spdlog::info("waiting for {} worker(s) to join", options.wait_for_workers);
    if (!(*session)->AwaitMap(
            [&](const v1::ClusterMap& map) {
              return AliveWorkerCount(map) >= options.wait_for_workers;
            },
            options.connect_timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("fewer than ", options.wait_for_workers, " workers joined within ",
                       absl::FormatDuration(options.connect_timeout),
                       " (alive now: ", AliveWorkerCount((*session)->CurrentMap()), ")"));
    }
  }
  return std::unique_ptr<PsClient>(
      new PsClient(options, *std::move(session), std::move(transport)));
}

PsClient::PsClient(const PsClientOptions& options, std::unique_ptr<CoordinatorSession> session,
                   std::unique_ptr<ServerTransport> transport)
    : options_(options),
      session_(std::move(session)),
      transport_(std::move(transport)),
      map_source_(*session_),
      executor_(ExecutorOptions(options, *session_), map_source_, *transport_) {}

PsClient::~PsClient() { Leave(); }

void PsClient::Leave(bool finished) { session_->Leave(finished); }

int PsClient::live_workers() const { return AliveWorkerCount(*session_->Map()); }

ClientStats PsClient::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

absl::StatusOr<v1::TableInfo> PsClient::CreateTable(const v1::TableSpec& spec) {
  v1::CreateTableRequest request;
  *request.mutable_spec() = spec;
  v1::CreateTableResponse response;
  // Idempotent (an existing table with the same spec is returned), so safe to retry on another
  // coordinator after an unknown outcome.
  const auto create = [&] {
    return session_->CallCoordinator(
        [&](v1::Coordinator::Stub& coordinator, grpc::ClientContext& context) {
          return coordinator.CreateTable(&context, request, &response);
        },
        absl::Now() + options_.request_timeout);
  };
  absl::Status status = create();
  // Without the admin role a worker only joins a table an admin (the job's chief worker, psctl)
  // creates: while it does not exist, wait for it as for the cluster at start.
  const absl::Time give_up = absl::Now() + options_.connect_timeout;
  bool waiting = false;
  while (absl::IsPermissionDenied(status) && absl::Now() < give_up &&
         absl::IsNotFound(LookupTableNow(spec.name()).status())) {
    if (!waiting) {
      spdlog::info(
          "table '{}' does not exist yet and this worker may not create it (no admin "
          "role): waiting for an admin to create it",
          spec.name());
      waiting = true;
    }
    absl::SleepFor(absl::Milliseconds(200));
    status = create();
  }
  if (!status.ok()) return status;
  return AwaitTable(response.table());
}

absl::StatusOr<v1::TableInfo> PsClient::LookupTable(const std::string& name) {
  absl::StatusOr<v1::TableInfo> table = LookupTableNow(name);
  if (!table.ok()) return table.status();
  return AwaitTable(*table);
}

absl::StatusOr<v1::TableInfo> PsClient::LookupTableNow(const std::string& name) {
  v1::DescribeTableRequest request;
  request.set_name(name);
  v1::TableInfo table;
  const absl::Status status = session_->CallCoordinator(
      [&](v1::Coordinator::Stub& coordinator, grpc::ClientContext& context) {
        return coordinator.DescribeTable(&context, request, &table);
      },
      absl::Now() + options_.request_timeout);
  if (!status.ok()) return status;
  return table;
}

absl::StatusOr<v1::TableInfo> PsClient::AwaitTable(const v1::TableInfo& table) {
  if (!session_->AwaitMap(
          [&](const v1::ClusterMap& map) { return ListsTable(map, table.table_id()); },
          options_.request_timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "table '", table.spec().name(), "' exists but the cluster map did not list it within ",
        absl::FormatDuration(options_.request_timeout)));
  }
  return table;
}

absl::StatusOr<Operation> PsClient::BeginOperation(const v1::TableInfo& table, v1::TableKind kind,
                                                   bool push, size_t num_values,
                                                   uint64_t expected_values) const {
  if (table.spec().kind() != kind) {
    return absl::InvalidArgumentError(absl::StrCat("table '", table.spec().name(), "' is ",
                                                   v1::TableKind_Name(table.spec().kind()),
                                                   "; this call needs ", v1::TableKind_Name(kind)));
  }
  if (num_values != expected_values) {
    return absl::InvalidArgumentError(
        absl::StrCat(push ? "the gradient" : "the output", " for table '", table.spec().name(),
                     "' has ", num_values, " values; expected ", expected_values));
  }
  Operation op;
  op.push = push;
  op.table = &table;
  op.what = push ? absl::StrCat("push to table '", table.spec().name(), "'")
                 : absl::StrCat("pull of table '", table.spec().name(), "' at clock ", clock());
  return op;
}

absl::Status PsClient::AddDensePushParts(
    const v1::TableInfo& table, Operation& op,
    const std::function<absl::StatusOr<EncodedValues>(uint64_t, uint64_t)>& encode,
    uint32_t first_shard, uint32_t end_shard) const {
  const uint64_t size = table.spec().dense_size();
  const uint32_t num_shards = session_->Map()->num_shards();
  for (uint32_t shard = first_shard; shard < end_shard; ++shard) {
    const DenseRange range = DenseShardRange(size, num_shards, shard);
    absl::StatusOr<EncodedValues> encoded = encode(range.begin, range.size());
    if (!encoded.ok()) {
      return absl::Status(encoded.status().code(), absl::StrCat(op.what, ": encoding shard ", shard,
                                                                ": ", encoded.status().message()));
    }
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_values = range.size();
    part.values_header = std::move(encoded->header);
    part.values = std::move(encoded->payload);
  }
  return absl::OkStatus();
}

namespace {

// Float32 values of `gradient` as they are, borrowed: Execute() returns only after every request
// carrying them has completed.
std::function<absl::StatusOr<EncodedValues>(uint64_t, uint64_t)> Unencoded(
    absl::Span<const float> gradient) {
  return [gradient](uint64_t begin, uint64_t count) -> absl::StatusOr<EncodedValues> {
    return EncodedValues{DescribeEncoded(Compression(), count),
                         BorrowedSlice(gradient.data() + begin, count * sizeof(float))};
  };
}

std::function<absl::StatusOr<EncodedValues>(uint64_t, uint64_t)> EncodedBy(
    GradientEncoder& gradient) {
  return [&gradient](uint64_t begin, uint64_t count) { return gradient.Encode(begin, count); };
}

}  // namespace

absl::Status PsClient::Push(const v1::TableInfo& table, absl::Span<const float> gradient) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true,
                                                   gradient.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  PS_RETURN_IF_ERROR(AddDensePushParts(table, *begun, Unencoded(gradient), 0, num_shards()));
  return Execute(*begun);
}

absl::Status PsClient::Push(const v1::TableInfo& table, GradientEncoder& gradient) {
  const uint64_t size = table.spec().dense_size();
  absl::StatusOr<Operation> begun =
      BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true, size, size);
  if (!begun.ok()) return begun.status();
  PS_RETURN_IF_ERROR(AddDensePushParts(table, *begun, EncodedBy(gradient), 0, num_shards()));
  return Execute(*begun);
}

absl::Status PsClient::Pull(const v1::TableInfo& table, absl::Span<float> values) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/false,
                                                   values.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->Map()->num_shards();
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    const DenseRange range = DenseShardRange(table.spec().dense_size(), num_shards, shard);
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_values = range.size();
    part.out = values.data() + range.begin;
  }
  return Execute(op);
}

absl::Status PsClient::PushSparse(const v1::TableInfo& table, absl::Span<const uint64_t> keys,
                                  absl::Span<const float> gradients) {
  const size_t dim = table.spec().sparse_dim();
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_SPARSE, /*push=*/true,
                                                   gradients.size(), keys.size() * dim);
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  // Sum the rows of repeated keys, grouped by shard; every shard gets a slice (empty if need be)
  // so that BSP and SSP count this worker in at this clock. The slices borrow keys_by_shard_'s
  // buffers, which Execute() outlives.
  const uint32_t num_shards = session_->Map()->num_shards();
  keys_by_shard_.GroupPush(keys, gradients, dim, num_shards);
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    const absl::Span<const uint64_t> shard_keys = keys_by_shard_.keys(shard);
    const absl::Span<const float> shard_rows = keys_by_shard_.rows(shard);
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_keys = shard_keys.size();
    part.keys = BorrowedSlice(shard_keys.data(), shard_keys.size() * sizeof(uint64_t));
    part.num_values = shard_rows.size();
    part.values_header = DescribeEncoded(Compression(), part.num_values);
    part.values = BorrowedSlice(shard_rows.data(), shard_rows.size() * sizeof(float));
  }
  return Execute(op);
}

absl::Status PsClient::PullSparse(const v1::TableInfo& table, absl::Span<const uint64_t> keys,
                                  absl::Span<float> values) {
  const size_t dim = table.spec().sparse_dim();
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_SPARSE, /*push=*/false,
                                                   values.size(), keys.size() * dim);
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->Map()->num_shards();
  keys_by_shard_.GroupPull(keys, num_shards);
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    const absl::Span<const uint64_t> shard_keys = keys_by_shard_.keys(shard);
    if (shard_keys.empty()) continue;
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_keys = shard_keys.size();
    part.keys = BorrowedSlice(shard_keys.data(), shard_keys.size() * sizeof(uint64_t));
    part.num_values = part.num_keys * dim;
    part.out = values.data();
    part.positions = keys_by_shard_.positions(shard);
  }
  return Execute(op);
}

absl::Status PsClient::PushPull(const v1::TableInfo& table, absl::Span<const float> gradient,
                                absl::Span<float> values, uint64_t read_ahead) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true,
                                                   gradient.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  PS_RETURN_IF_ERROR(AddDensePushParts(table, *begun, Unencoded(gradient), 0, num_shards()));
  PS_RETURN_IF_ERROR(ExecutePushPull(table, *begun, values, read_ahead));
  AdvanceClock();
  return absl::OkStatus();
}

absl::Status PsClient::PushPull(const v1::TableInfo& table, GradientEncoder& gradient,
                                absl::Span<float> values, uint64_t read_ahead) {
  const uint64_t size = table.spec().dense_size();
  absl::StatusOr<Operation> begun =
      BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true, size, size);
  if (!begun.ok()) return begun.status();
  PS_RETURN_IF_ERROR(AddDensePushParts(table, *begun, EncodedBy(gradient), 0, num_shards()));
  PS_RETURN_IF_ERROR(ExecutePushPull(table, *begun, values, read_ahead));
  AdvanceClock();
  return absl::OkStatus();
}

absl::Status PsClient::PushPullShards(const v1::TableInfo& table, absl::Span<const float> gradient,
                                      absl::Span<float> values, uint32_t first_shard,
                                      uint32_t end_shard) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true,
                                                   gradient.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  const uint32_t shards = num_shards();
  if (first_shard >= end_shard || end_shard > shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards [", first_shard, ", ", end_shard, ") of table '", table.spec().name(),
                     "': expected a non-empty interval within [0, ", shards, ")"));
  }
  PS_RETURN_IF_ERROR(AddDensePushParts(table, *begun, Unencoded(gradient), first_shard, end_shard));
  // Read at the clock after this one, as PushPull does, though the clock itself stays.
  return ExecutePushPull(table, *begun, values, /*read_ahead=*/0);
}

uint32_t PsClient::num_shards() const { return session_->Map()->num_shards(); }

absl::Status PsClient::ExecutePushPull(const v1::TableInfo& table, Operation& op,
                                       absl::Span<float> values, uint64_t read_ahead) {
  const v1::ConsistencySpec& consistency = table.spec().consistency();
  const bool allowed = consistency.model() == v1::ConsistencySpec::MODEL_ASP ||
                       (consistency.model() == v1::ConsistencySpec::MODEL_SSP &&
                        read_ahead <= consistency.staleness()) ||
                       read_ahead == 0;
  if (!allowed) {
    // The read would wait for this worker's own next push, which cannot come before it returns.
    return absl::InvalidArgumentError(absl::StrCat(
        "reading ", read_ahead, " clock(s) ahead of table '", table.spec().name(),
        "' needs ASP, "
        "or SSP with staleness >= ",
        read_ahead, "; the table is ", v1::ConsistencySpec::Model_Name(consistency.model()),
        consistency.model() == v1::ConsistencySpec::MODEL_SSP
            ? absl::StrCat(" with staleness ", consistency.staleness())
            : ""));
  }
  if (values.size() != table.spec().dense_size()) {
    return absl::InvalidArgumentError(absl::StrCat("the output for table '", table.spec().name(),
                                                   "' has ", values.size(), " values; expected ",
                                                   table.spec().dense_size()));
  }
  const uint32_t num_shards = session_->Map()->num_shards();
  for (ShardPart& part : op.parts) {
    part.out =
        values.data() + DenseShardRange(table.spec().dense_size(), num_shards, part.shard_id).begin;
  }
  op.pull_after_push = true;
  op.pull_clock = clock() + 1 + read_ahead;
  op.what = absl::StrCat("push and pull of table '", table.spec().name(), "' at clock ", clock());
  return Execute(op);
}

absl::StatusOr<uint64_t> PsClient::JoinBspClock(const v1::TableInfo& table) {
  if (table.spec().consistency().model() != v1::ConsistencySpec::MODEL_BSP) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", table.spec().name(), "' is not BSP: only BSP clocks are joined"));
  }
  if (options_.observer || seq_ > 0) {
    return absl::FailedPreconditionError("only a worker that has not pushed yet joins a BSP clock");
  }
  // A read at clock 0 never waits. Dense: the whole table (once per join); sparse: no keys.
  const bool dense = table.spec().kind() == v1::TABLE_KIND_DENSE;
  std::vector<float> scratch(dense ? table.spec().dense_size() : 0);
  absl::StatusOr<Operation> begun =
      BeginOperation(table, table.spec().kind(), /*push=*/false, scratch.size(), scratch.size());
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->Map()->num_shards();
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    if (dense) {
      const DenseRange range = DenseShardRange(table.spec().dense_size(), num_shards, shard);
      part.num_values = range.size();
      part.out = scratch.data() + range.begin;
    }
  }
  clock_.store(0);
  op.what = absl::StrCat("read of the clock of table '", table.spec().name(), "'");
  uint64_t joined = 0;
  uint64_t behind = std::numeric_limits<uint64_t>::max();
  PS_RETURN_IF_ERROR(Execute(op, &joined, &behind));
  clock_.store(joined);
  join_read_clock_ = std::min(join_read_clock_, behind);
  return joined;
}

absl::Status PsClient::Execute(Operation& op, uint64_t* max_shard_clock,
                               uint64_t* min_shard_clock) {
  if (op.push && options_.observer) {
    return absl::FailedPreconditionError("an observer client cannot push");
  }
  const absl::Time start = absl::Now();
  if (op.push) {
    op.seq = ++seq_;
  }
  op.clock = clock();
  // A joiner's reads before its first push (JoinBspClock).
  if (!op.push && seq_ == 0) op.clock = std::min(op.clock, join_read_clock_);
  const ExecutionResult result = executor_.Execute(op);
  if (max_shard_clock != nullptr) *max_shard_clock = result.max_shard_clock;
  if (min_shard_clock != nullptr) *min_shard_clock = result.min_shard_clock;
  absl::MutexLock lock(&stats_mu_);
  (op.push ? stats_.bytes_pushed : stats_.bytes_pulled) += result.traffic.bytes;
  (op.push ? stats_.dense_equivalent_bytes_pushed : stats_.dense_equivalent_bytes_pulled) +=
      result.traffic.dense_equivalent_bytes;
  stats_.bytes_pulled += result.pulled_after_push.bytes;
  stats_.server_push_time += result.server_time;
  stats_.parked_time += result.parked_time;
  stats_.dense_equivalent_bytes_pulled += result.pulled_after_push.dense_equivalent_bytes;
  (op.pull_after_push ? stats_.push_pull_time
   : op.push          ? stats_.push_time
                      : stats_.pull_time) += absl::Now() - start;
  stats_.retries += result.retries;
  return result.status;
}

}  // namespace ps
