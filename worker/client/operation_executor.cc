#include "worker/client/operation_executor.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/frame.h"
#include "proto/parameter_server.pb.h"
#include "spdlog/spdlog.h"
#include "worker/client/pull_scatter.h"
#include "worker/client/reply_outcome.h"

namespace ps {
namespace {

constexpr absl::Duration kFirstRetryWait = absl::Milliseconds(5);
constexpr absl::Duration kMaxRetryWait = absl::Milliseconds(500);

// Adds what `parts`, accepted by their server, carried to `traffic`: keys, and pushed values
// (a pull's values are counted as they are scattered).
void CountSent(const Operation& op, const std::vector<ShardPart*>& parts, Traffic* traffic) {
  for (const ShardPart* part : parts) {
    traffic->bytes += part->keys.size();
    traffic->dense_equivalent_bytes += part->keys.size();
  }
  if (!op.push) return;
  for (const ShardPart* part : parts) {
    traffic->bytes += part->values.size();
    traffic->dense_equivalent_bytes += part->num_values * sizeof(float);
  }
}

// PushResponse.server_micros of a push's answer; zero if the answer does not parse (the push
// went through either way: its status said so).
absl::Duration ServerTimeOfPush(const grpc::ByteBuffer& response) {
  v1::PushResponse answer;
  if (!ParseMessage(response, &answer)) return absl::ZeroDuration();
  return absl::Microseconds(answer.server_micros());
}

}  // namespace

OperationExecutor::OperationExecutor(const OperationExecutorOptions& options,
                                     ClusterMapSource& maps, ServerTransport& transport)
    : options_(options), maps_(maps), transport_(transport) {}

bool OperationExecutor::StreamsPush(const Operation& op, const ServerBatch& batch) const {
  if (!op.push || op.pull_after_push || options_.stream_push_bytes == 0 || batch.parts.size() < 2) {
    return false;
  }
  uint64_t bytes = 0;
  for (const ShardPart* part : batch.parts) bytes += part->keys.size() + part->values.size();
  return bytes >= options_.stream_push_bytes;
}

std::vector<ServerReply> OperationExecutor::SendAll(const Operation& op, const v1::ClusterMap& map,
                                                    const std::vector<ServerBatch>& batches,
                                                    absl::Time deadline) {
  std::vector<ServerReply> replies(batches.size());
  absl::BlockingCounter pending(static_cast<int>(batches.size()));
  for (size_t i = 0; i < batches.size(); ++i) {
    const ServerBatch& batch = batches[i];
    auto done = [&replies, &pending, i](ServerReply reply) {
      replies[i] = std::move(reply);
      pending.DecrementCount();
    };
    if (StreamsPush(op, batch)) {
      std::vector<grpc::ByteBuffer> messages;
      messages.reserve(batch.parts.size());
      for (ShardPart* part : batch.parts) {
        messages.push_back(BuildPushRequest(op, {part}, map, options_.sender));
      }
      transport_.StreamCall(batch.address, batch.connection, kPushStreamMethod, std::move(messages),
                            deadline, std::move(done));
      continue;
    }
    grpc::ByteBuffer request =
        op.pull_after_push
            ? BuildPushPullRequest(op, batch.parts, map, options_.sender, options_.pull_encoding)
        : op.push ? BuildPushRequest(op, batch.parts, map, options_.sender)
                  : BuildPullRequest(op, batch.parts, map, options_.sender, options_.pull_encoding);
    const char* method = op.pull_after_push ? kPushPullMethod : op.push ? kPushMethod : kPullMethod;
    transport_.Call(batch.address, batch.connection, method, std::move(request), deadline,
                    std::move(done));
  }
  pending.Wait();
  return replies;
}

ExecutionResult OperationExecutor::Execute(Operation& op) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.request_timeout;
  const size_t dim = op.table->spec().sparse_dim();
  absl::Duration retry_wait = kFirstRetryWait;
  ExecutionResult result;
  while (true) {
    const std::shared_ptr<const v1::ClusterMap> snapshot = maps_.Map();
    const v1::ClusterMap& map = *snapshot;
    Routing routing = RoutePendingParts(map, op.parts);
    SpreadOverConnections(routing, op.push, options_.spread_bytes, options_.connections_per_server);
    const std::vector<ServerReply> replies = SendAll(op, map, routing.batches, deadline);

    uint64_t wanted_epoch = 0;
    absl::Duration slowest_server, longest_parked;
    bool retry = routing.unroutable;
    absl::Status retry_reason =
        routing.unroutable ? absl::UnavailableError("a shard has no live primary in the map")
                           : absl::OkStatus();
    for (size_t i = 0; i < replies.size(); ++i) {
      const ServerBatch& batch = routing.batches[i];
      const ReplyOutcome outcome = ClassifyReply(op, batch, replies[i], options_.request_timeout);
      switch (outcome.kind) {
        case ReplyOutcome::Kind::kDone:
          CountSent(op, batch.parts, &result.traffic);
          if (!op.push || op.pull_after_push) {
            absl::Duration server, parked;
            uint64_t shard_clock = 0;
            uint64_t min_shard_clock = std::numeric_limits<uint64_t>::max();
            absl::Status scattered =
                op.push ? ScatterPushPullResponse(replies[i].response, batch.parts, dim,
                                                  options_.pull_encoding, &result.pulled_after_push,
                                                  &server, &parked)
                        : ScatterPullResponse(replies[i].response, batch.parts, dim,
                                              options_.pull_encoding, &result.traffic, &parked,
                                              &shard_clock, &min_shard_clock);
            result.max_shard_clock = std::max(result.max_shard_clock, shard_clock);
            result.min_shard_clock = std::min(result.min_shard_clock, min_shard_clock);
            slowest_server = std::max(slowest_server, server);
            longest_parked = std::max(longest_parked, parked);
            if (!scattered.ok()) {
              result.status = absl::Status(
                  scattered.code(), absl::StrCat(op.what, " from server ", batch.server_id, ": ",
                                                 scattered.message()));
            }
          }
          if (op.push && !op.pull_after_push) {
            slowest_server = std::max(slowest_server, ServerTimeOfPush(replies[i].response));
          }
          for (ShardPart* part : batch.parts) part->done = true;
          break;
        case ReplyOutcome::Kind::kRetry:
          if (outcome.unreachable && !options_.observer &&
              reported_unreachable_.insert({batch.server_id, map.epoch()}).second) {
            // The coordinator probes the server and declares it dead early if it is gone.
            maps_.ReportUnreachable(batch.server_id, replies[i].status.error_message());
          }
          retry = true;
          retry_reason = outcome.status;
          wanted_epoch = std::max(wanted_epoch, outcome.server_epoch);
          break;
        case ReplyOutcome::Kind::kFailed:
          if (result.status.ok()) result.status = outcome.status;
          break;
      }
    }
    result.server_time += slowest_server;
    result.parked_time += longest_parked;
    if (!result.status.ok() || !retry) break;
    ++result.retries;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.status = absl::DeadlineExceededError(absl::StrCat(
          op.what, " still failed after ", result.retries, " retries within ",
          absl::FormatDuration(options_.request_timeout), ": ", retry_reason.ToString()));
      break;
    }
    spdlog::debug("{}: retrying ({})", op.what, retry_reason.ToString());
    if (wanted_epoch > map.epoch()) {
      maps_.AwaitMap([&](const v1::ClusterMap& m) { return m.epoch() >= wanted_epoch; }, left);
    } else {
      // The server is behind, or unreachable until the coordinator notices: wait for a newer map
      // or a short while, whichever comes first.
      const uint64_t used = map.epoch();
      maps_.AwaitMap([&](const v1::ClusterMap& m) { return m.epoch() > used; },
                     std::min(retry_wait, left));
      retry_wait = std::min(retry_wait * 2, kMaxRetryWait);
    }
  }
  const absl::Duration took = absl::Now() - start;
  if (result.status.ok() && result.retries > 0 && took > absl::Milliseconds(50)) {
    // A failover or map change held this call up: say so once it went through.
    spdlog::info("{} went through after {} retries over {} ms (map epoch now {})", op.what,
                 result.retries, absl::ToInt64Milliseconds(took), maps_.Map()->epoch());
  }
  return result;
}

}  // namespace ps
