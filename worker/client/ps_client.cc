#include "worker/client/ps_client.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/codec/compression.h"
#include "common/codec/decoder.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "common/partition.h"
#include "proto/parameter_server.pb.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr char kPushMethod[] = "/ps.v1.ParameterServer/Push";
constexpr char kPullMethod[] = "/ps.v1.ParameterServer/Pull";
constexpr absl::Duration kFirstRetryWait = absl::Milliseconds(5);
constexpr absl::Duration kMaxRetryWait = absl::Milliseconds(500);

int AliveWorkerCount(const v1::ClusterMap& map) {
  return static_cast<int>(std::count_if(map.workers().begin(), map.workers().end(),
                                        [](const v1::WorkerInfo& worker) {
                                          return worker.state() == v1::MEMBER_STATE_ALIVE;
                                        }));
}

bool ListsTable(const v1::ClusterMap& map, uint32_t table_id) {
  return std::any_of(map.tables().begin(), map.tables().end(),
                     [&](const v1::TableInfo& table) { return table.table_id() == table_id; });
}

}  // namespace

// One shard's part of an operation.
struct PsClient::ShardPart {
  uint32_t shard_id = 0;
  uint64_t num_keys = 0;
  grpc::Slice keys;  // Sparse push and pull.
  // Push: the values as sent, and their description.
  v1::TensorHeader values_header;
  grpc::Slice values;
  // Push: values sent. Pull: values expected back.
  uint64_t num_values = 0;
  // Pull destination: DENSE the shard's range starts at `out`; SPARSE row i of the answer goes to
  // out + positions[i] * dim.
  float* out = nullptr;
  std::vector<size_t> positions;
  bool done = false;
};

struct PsClient::Operation {
  bool push = false;
  const v1::TableInfo* table = nullptr;
  uint64_t seq = 0;
  uint64_t clock = 0;
  std::vector<ShardPart> parts;
  // "push to table 'w'" for errors.
  std::string what;
};

absl::StatusOr<std::unique_ptr<PsClient>> PsClient::Connect(const PsClientOptions& options) {
  CoordinatorSessionOptions session_options;
  session_options.coordinator_address = options.coordinator_address;
  session_options.role = v1::MemberRef::ROLE_WORKER;
  session_options.observer = options.observer;
  session_options.register_timeout = options.connect_timeout;
  absl::StatusOr<std::unique_ptr<CoordinatorSession>> session = CoordinatorSession::Start(
      session_options, nullptr, [](const absl::Status& status) {
        spdlog::error("the coordinator expelled this worker ({}); its pushes will be refused",
                      status.ToString());
      });
  if (!session.ok()) return session.status();
  if (options.wait_for_workers > 0) {
    spdlog::info("waiting for {} worker(s) to join", options.wait_for_workers);
    if (!(*session)->AwaitMap(
            [&](const v1::ClusterMap& map) {
              return AliveWorkerCount(map) >= options.wait_for_workers;
            },
            options.connect_timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "fewer than ", options.wait_for_workers, " workers joined within ",
          absl::FormatDuration(options.connect_timeout), " (alive now: ",
          AliveWorkerCount((*session)->CurrentMap()), ")"));
    }
  }
  return std::unique_ptr<PsClient>(new PsClient(options, *std::move(session)));
}

PsClient::PsClient(const PsClientOptions& options, std::unique_ptr<CoordinatorSession> session)
    : options_(options),
      session_(std::move(session)),
      coordinator_(v1::Coordinator::NewStub(OpenChannel(options.coordinator_address))) {}

PsClient::~PsClient() { Leave(); }

void PsClient::Leave() { session_->Leave(); }

int PsClient::live_workers() const { return AliveWorkerCount(session_->CurrentMap()); }

ClientStats PsClient::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

absl::StatusOr<v1::TableInfo> PsClient::CreateTable(const v1::TableSpec& spec) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));
  v1::CreateTableRequest request;
  *request.mutable_spec() = spec;
  v1::CreateTableResponse response;
  const grpc::Status status = coordinator_->CreateTable(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return AwaitTable(response.table());
}

absl::StatusOr<v1::TableInfo> PsClient::LookupTable(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));
  v1::DescribeTableRequest request;
  request.set_name(name);
  v1::TableInfo table;
  const grpc::Status status = coordinator_->DescribeTable(&context, request, &table);
  if (!status.ok()) return FromGrpcStatus(status);
  return AwaitTable(table);
}

absl::StatusOr<v1::TableInfo> PsClient::AwaitTable(const v1::TableInfo& table) {
  if (!session_->AwaitMap(
          [&](const v1::ClusterMap& map) { return ListsTable(map, table.table_id()); },
          options_.request_timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("table '", table.spec().name(), "' exists but the cluster map did not list it within ",
                     absl::FormatDuration(options_.request_timeout)));
  }
  return table;
}

absl::StatusOr<PsClient::Operation> PsClient::BeginOperation(const v1::TableInfo& table,
                                                             v1::TableKind kind, bool push,
                                                             size_t num_values,
                                                             uint64_t expected_values) const {
  if (table.spec().kind() != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", table.spec().name(), "' is ",
                     v1::TableKind_Name(table.spec().kind()), "; this call needs ",
                     v1::TableKind_Name(kind)));
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

absl::Status PsClient::Push(const v1::TableInfo& table, absl::Span<const float> gradient) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true,
                                                  gradient.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->CurrentMap().num_shards();
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    const DenseRange range = DenseShardRange(table.spec().dense_size(), num_shards, shard);
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_values = range.size();
    part.values_header = DescribeEncoded(Compression(), range.size());
    // Borrowed: Execute() returns only after every request carrying it has completed.
    part.values = BorrowedSlice(gradient.data() + range.begin, range.size() * sizeof(float));
  }
  return Execute(op);
}

absl::Status PsClient::Push(const v1::TableInfo& table, GradientEncoder& gradient) {
  const uint64_t size = table.spec().dense_size();
  absl::StatusOr<Operation> begun =
      BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/true, size, size);
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->CurrentMap().num_shards();
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    const DenseRange range = DenseShardRange(size, num_shards, shard);
    absl::StatusOr<EncodedValues> encoded = gradient.Encode(range.begin, range.size());
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
  return Execute(op);
}

absl::Status PsClient::Pull(const v1::TableInfo& table, absl::Span<float> values) {
  absl::StatusOr<Operation> begun = BeginOperation(table, v1::TABLE_KIND_DENSE, /*push=*/false,
                                                  values.size(), table.spec().dense_size());
  if (!begun.ok()) return begun.status();
  Operation& op = *begun;
  const uint32_t num_shards = session_->CurrentMap().num_shards();
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
  // so that BSP and SSP count this worker in at this clock.
  const uint32_t num_shards = session_->CurrentMap().num_shards();
  std::vector<std::vector<uint64_t>> shard_keys(num_shards);
  std::vector<std::vector<float>> shard_rows(num_shards);
  absl::flat_hash_map<uint64_t, std::pair<uint32_t, size_t>> where;  // key -> (shard, row)
  where.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t shard = SparseShardOf(keys[i], num_shards);
    const auto [it, inserted] = where.try_emplace(keys[i], shard, shard_keys[shard].size());
    if (inserted) {
      shard_keys[shard].push_back(keys[i]);
      shard_rows[shard].insert(shard_rows[shard].end(), gradients.begin() + i * dim,
                               gradients.begin() + (i + 1) * dim);
    } else {
      float* row = shard_rows[shard].data() + it->second.second * dim;
      for (size_t j = 0; j < dim; ++j) row[j] += gradients[i * dim + j];
    }
  }
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_keys = shard_keys[shard].size();
    part.keys = grpc::Slice(shard_keys[shard].data(), part.num_keys * sizeof(uint64_t));
    part.num_values = shard_rows[shard].size();
    part.values_header = DescribeEncoded(Compression(), part.num_values);
    part.values = grpc::Slice(shard_rows[shard].data(), part.num_values * sizeof(float));
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
  const uint32_t num_shards = session_->CurrentMap().num_shards();
  std::vector<std::vector<uint64_t>> shard_keys(num_shards);
  std::vector<std::vector<size_t>> positions(num_shards);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t shard = SparseShardOf(keys[i], num_shards);
    shard_keys[shard].push_back(keys[i]);
    positions[shard].push_back(i);
  }
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    if (shard_keys[shard].empty()) continue;
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_keys = shard_keys[shard].size();
    part.keys = grpc::Slice(shard_keys[shard].data(), part.num_keys * sizeof(uint64_t));
    part.num_values = part.num_keys * dim;
    part.out = values.data();
    part.positions = std::move(positions[shard]);
  }
  return Execute(op);
}

absl::Status PsClient::PushPull(const v1::TableInfo& table, absl::Span<const float> gradient,
                                absl::Span<float> values) {
  if (absl::Status pushed = Push(table, gradient); !pushed.ok()) return pushed;
  AdvanceClock();
  return Pull(table, values);
}

grpc::GenericStub& PsClient::StubFor(const std::string& address) {
  absl::MutexLock lock(&stubs_mu_);
  std::unique_ptr<grpc::GenericStub>& stub = stubs_[address];
  if (stub == nullptr) stub = std::make_unique<grpc::GenericStub>(OpenChannel(address));
  return *stub;
}

// One request to one server within an attempt.
struct PsClient::ServerCall {
  uint32_t server_id = 0;
  std::string address;
  std::vector<ShardPart*> parts;
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  grpc::Status status;
};

namespace {

// Decodes one pull answer into the parts' destinations, checking that it is what was asked for.
template <typename Part>
absl::Status Scatter(const grpc::ByteBuffer& response, const std::vector<Part*>& parts, size_t dim,
                     v1::Encoding encoding, uint64_t* bytes, uint64_t* dense_bytes) {
  v1::PullResponse header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(response, &header);
  if (!reader.ok()) return reader.status();
  if (header.slices_size() != static_cast<int>(parts.size())) {
    return absl::InternalError(absl::StrCat("the server answered ", header.slices_size(),
                                            " slices for ", parts.size(), " requested"));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& part = *parts[i];
    const v1::ShardSlice& slice = header.slices(i);
    const v1::TensorHeader& values = slice.values();
    // One pass over the values: the layout check reads nothing, then they are decoded in place.
    absl::Status valid = slice.shard_id() == part.shard_id && values.encoding() == encoding
                             ? CheckEncodedLayout(values, part.num_values, *reader)
                             : absl::InvalidArgumentError("another shard or encoding");
    if (!valid.ok()) {
      return absl::InternalError(absl::StrCat("the server's answer for shard ", part.shard_id,
                                              " does not match the request (", valid.message(),
                                              "): ", slice.ShortDebugString()));
    }
    if (part.positions.empty()) {
      DecodeInto(values, *reader, absl::MakeSpan(part.out, part.num_values));
    } else {
      TensorDecoder decoder(values, *reader);
      for (size_t position : part.positions) {
        decoder.Next(absl::MakeSpan(part.out + position * dim, dim));
      }
    }
    reader->Skip(values.payload_bytes()).IgnoreError();  // The layout check saw it is there.
    *bytes += values.payload_bytes();
    *dense_bytes += part.num_values * sizeof(float);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PsClient::Execute(Operation& op) {
  if (op.push && options_.observer) {
    return absl::FailedPreconditionError("an observer client cannot push");
  }
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.request_timeout;
  if (op.push) {
    op.seq = ++seq_;
  }
  op.clock = clock();
  const size_t dim = op.table->spec().sparse_dim();
  absl::Duration retry_wait = kFirstRetryWait;
  uint64_t bytes = 0;
  uint64_t dense_bytes = 0;
  uint64_t retries = 0;
  absl::Status result;
  while (true) {
    const v1::ClusterMap map = session_->CurrentMap();
    absl::flat_hash_map<uint32_t, std::string> addresses;
    for (const v1::ServerInfo& server : map.servers()) {
      if (server.state() == v1::MEMBER_STATE_ALIVE) addresses[server.server_id()] = server.address();
    }
    // Group the parts still to do by the primary of their shard.
    std::vector<std::unique_ptr<ServerCall>> calls;
    absl::flat_hash_map<uint32_t, ServerCall*> by_server;
    bool unroutable = false;
    for (ShardPart& part : op.parts) {
      if (part.done) continue;
      const uint32_t primary = part.shard_id < static_cast<uint32_t>(map.shards_size()) &&
                                       map.shards(part.shard_id).replicas_size() > 0
                                   ? map.shards(part.shard_id).replicas(0)
                                   : 0;
      const auto address = addresses.find(primary);
      if (address == addresses.end()) {
        unroutable = true;  // No live primary in this map yet: wait for the next one.
        continue;
      }
      ServerCall*& call = by_server[primary];
      if (call == nullptr) {
        calls.push_back(std::make_unique<ServerCall>());
        call = calls.back().get();
        call->server_id = primary;
        call->address = address->second;
      }
      call->parts.push_back(&part);
    }
    for (const std::unique_ptr<ServerCall>& call : calls) {
      std::vector<grpc::Slice> payload;
      auto describe = [&](v1::ShardSlice* slice, const ShardPart& part) {
        slice->set_table_id(op.table->table_id());
        slice->set_shard_id(part.shard_id);
        slice->set_num_keys(part.num_keys);
        if (part.num_keys > 0) payload.push_back(part.keys);
      };
      if (op.push) {
        v1::PushRequest header;
        header.set_epoch(map.epoch());
        header.set_catalog_version(map.catalog_version());
        header.set_membership_version(map.membership_version());
        header.set_worker_id(session_->member_id());
        header.set_incarnation(session_->incarnation());
        header.set_seq(op.seq);
        header.set_clock(op.clock);
        for (const ShardPart* p : call->parts) {
          const ShardPart& part = *p;
          v1::ShardSlice* slice = header.add_slices();
          describe(slice, part);
          *slice->mutable_values() = part.values_header;
          payload.push_back(part.values);
        }
        call->request = MakeFrame(header, payload);
      } else {
        v1::PullRequest header;
        header.set_epoch(map.epoch());
        header.set_catalog_version(map.catalog_version());
        header.set_worker_id(session_->member_id());
        header.set_incarnation(session_->incarnation());
        header.set_clock(op.clock);
        header.set_value_encoding(options_.pull_encoding);
        for (const ShardPart* part : call->parts) describe(header.add_slices(), *part);
        call->request = MakeFrame(header, payload);
      }
      call->context.set_deadline(absl::ToChronoTime(deadline));
    }
    absl::BlockingCounter pending(static_cast<int>(calls.size()));
    for (const std::unique_ptr<ServerCall>& call : calls) {
      ServerCall* c = call.get();
      StubFor(c->address).UnaryCall(&c->context, op.push ? kPushMethod : kPullMethod,
                                    grpc::StubOptions(), &c->request, &c->response,
                                    [c, &pending](grpc::Status status) {
                                      c->status = std::move(status);
                                      pending.DecrementCount();
                                    });
    }
    pending.Wait();

    uint64_t wanted_epoch = 0;
    bool retry = unroutable;
    absl::Status retry_reason =
        unroutable ? absl::UnavailableError("a shard has no live primary in the map") : absl::OkStatus();
    for (const std::unique_ptr<ServerCall>& call : calls) {
      const grpc::StatusCode code = call->status.error_code();
      if (code == grpc::StatusCode::OK) {
        const std::vector<ShardPart*>& parts = call->parts;
        for (ShardPart* part : parts) {
          bytes += part->keys.size();
          dense_bytes += part->keys.size();
        }
        if (op.push) {
          for (ShardPart* part : parts) {
            bytes += part->values.size();
            dense_bytes += part->num_values * sizeof(float);
          }
        } else {
          if (absl::Status scattered =
                  Scatter(call->response, parts, dim, options_.pull_encoding, &bytes, &dense_bytes);
              !scattered.ok()) {
            result = absl::Status(scattered.code(), absl::StrCat(op.what, " from server ",
                                                                 call->server_id, ": ",
                                                                 scattered.message()));
          }
        }
        for (ShardPart* part : parts) part->done = true;
        continue;
      }
      if (code == grpc::StatusCode::UNAVAILABLE && !options_.observer &&
          reported_unreachable_.insert({call->server_id, map.epoch()}).second) {
        // The coordinator probes the server and declares it dead early if it is gone.
        session_->ReportUnreachable(call->server_id, call->status.error_message());
      }
      if (code == grpc::StatusCode::ABORTED || code == grpc::StatusCode::UNAVAILABLE) {
        retry = true;
        retry_reason = FromGrpcStatus(call->status);
        const auto& trailers = call->context.GetServerTrailingMetadata();
        const auto epoch = trailers.find("ps-epoch");
        uint64_t server_epoch = 0;
        if (epoch != trailers.end() &&
            absl::SimpleAtoi(absl::string_view(epoch->second.data(), epoch->second.size()),
                             &server_epoch)) {
          wanted_epoch = std::max(wanted_epoch, server_epoch);
        }
        continue;
      }
      if (result.ok()) {
        const std::string where =
            absl::StrCat(op.what, ": server ", call->server_id, " (", call->address, ")");
        result = code == grpc::StatusCode::DEADLINE_EXCEEDED
                     ? absl::DeadlineExceededError(absl::StrCat(
                           where, " did not answer within ",
                           absl::FormatDuration(options_.request_timeout),
                           op.push ? "" : " (a BSP/SSP pull waits for slower workers)", ": ",
                           call->status.error_message()))
                     : absl::Status(FromGrpcStatus(call->status).code(),
                                    absl::StrCat(where, ": ", call->status.error_message()));
      }
    }
    if (!result.ok() || !retry) break;
    ++retries;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result = absl::DeadlineExceededError(absl::StrCat(
          op.what, " still failed after ", retries, " retries within ",
          absl::FormatDuration(options_.request_timeout), ": ", retry_reason.ToString()));
      break;
    }
    spdlog::debug("{}: retrying ({})", op.what, retry_reason.ToString());
    if (wanted_epoch > map.epoch()) {
      session_->AwaitMap([&](const v1::ClusterMap& m) { return m.epoch() >= wanted_epoch; }, left);
    } else {
      // The server is behind, or unreachable until the coordinator notices: wait for a newer map
      // or a short while, whichever comes first.
      const uint64_t used = map.epoch();
      session_->AwaitMap([&](const v1::ClusterMap& m) { return m.epoch() > used; },
                         std::min(retry_wait, left));
      retry_wait = std::min(retry_wait * 2, kMaxRetryWait);
    }
  }
  const absl::Duration took = absl::Now() - start;
  if (result.ok() && retries > 0 && took > absl::Milliseconds(50)) {
    // A failover or map change held this call up: say so once it went through.
    spdlog::info("{} went through after {} retries over {} ms (map epoch now {})", op.what,
                 retries, absl::ToInt64Milliseconds(took), session_->CurrentMap().epoch());
  }
  absl::MutexLock lock(&stats_mu_);
  (op.push ? stats_.bytes_pushed : stats_.bytes_pulled) += bytes;
  (op.push ? stats_.dense_equivalent_bytes_pushed : stats_.dense_equivalent_bytes_pulled) +=
      dense_bytes;
  (op.push ? stats_.push_time : stats_.pull_time) += absl::Now() - start;
  stats_.retries += retries;
  return result;
}

}  // namespace ps
