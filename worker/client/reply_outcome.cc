#include "worker/client/reply_outcome.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace ps {

ReplyOutcome ClassifyReply(const Operation& op, const ServerBatch& batch, const ServerReply& reply,
                           absl::Duration request_timeout) {
  ReplyOutcome outcome;
  const grpc::StatusCode code = reply.status.error_code();
  if (code == grpc::StatusCode::OK) return outcome;
  if (code == grpc::StatusCode::ABORTED || code == grpc::StatusCode::UNAVAILABLE) {
    outcome.kind = ReplyOutcome::Kind::kRetry;
    outcome.status = FromGrpcStatus(reply.status);
    outcome.unreachable = code == grpc::StatusCode::UNAVAILABLE;
    const auto epoch = reply.trailing_metadata.find(kEpochTrailer);
    uint64_t server_epoch = 0;
    if (epoch != reply.trailing_metadata.end() && absl::SimpleAtoi(epoch->second, &server_epoch)) {
      outcome.server_epoch = server_epoch;
    }
    return outcome;
  }
  outcome.kind = ReplyOutcome::Kind::kFailed;
  const std::string where =
      absl::StrCat(op.what, ": server ", batch.server_id, " (", batch.address, ")");
  outcome.status =
      code == grpc::StatusCode::DEADLINE_EXCEEDED
          ? absl::DeadlineExceededError(absl::StrCat(
                where, " did not answer within ", absl::FormatDuration(request_timeout),
                op.push ? "" : " (a BSP/SSP pull waits for slower workers)", ": ",
                reply.status.error_message()))
          : absl::Status(FromGrpcStatus(reply.status).code(),
                         absl::StrCat(where, ": ", reply.status.error_message()));
  return outcome;
}

}  // namespace ps
