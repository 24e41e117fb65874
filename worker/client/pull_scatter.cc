#include "worker/client/pull_scatter.h"

#include <limits>

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/codec/decoder.h"
#include "common/frame.h"
#include "proto/parameter_server.pb.h"

namespace ps {

namespace {

absl::Status ScatterSlices(const v1::PullResponse& header, FrameReader* reader,
                           const std::vector<ShardPart*>& parts, size_t dim,
                           v1::Encoding encoding, Traffic* traffic) {
  if (header.slices_size() != static_cast<int>(parts.size())) {
    return absl::InternalError(absl::StrCat("the server answered ", header.slices_size(),
                                            " slices for ", parts.size(), " requested"));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const ShardPart& part = *parts[i];
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
    traffic->bytes += values.payload_bytes();
    traffic->dense_equivalent_bytes += part.num_values * sizeof(float);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ScatterPullResponse(const grpc::ByteBuffer& response,
                                 const std::vector<ShardPart*>& parts, size_t dim,
                                 v1::Encoding encoding, Traffic* traffic,
                                 absl::Duration* parked_time, uint64_t* max_shard_clock,
                                 uint64_t* min_shard_clock) {
  v1::PullResponse header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(response, &header);
  if (!reader.ok()) return reader.status();
  *parked_time = absl::Microseconds(header.parked_micros());
  *max_shard_clock = 0;
  *min_shard_clock = std::numeric_limits<uint64_t>::max();
  for (uint64_t clock : header.shard_clocks()) {
    *max_shard_clock = std::max(*max_shard_clock, clock);
    *min_shard_clock = std::min(*min_shard_clock, clock);
  }
  return ScatterSlices(header, &*reader, parts, dim, encoding, traffic);
}

absl::Status ScatterPushPullResponse(const grpc::ByteBuffer& response,
                                     const std::vector<ShardPart*>& parts, size_t dim,
                                     v1::Encoding encoding, Traffic* traffic,
                                     absl::Duration* server_time, absl::Duration* parked_time) {
  v1::PushPullResponse header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(response, &header);
  if (!reader.ok()) return reader.status();
  *server_time = absl::Microseconds(header.push().server_micros());
  *parked_time = absl::Microseconds(header.pull().parked_micros());
  return ScatterSlices(header.pull(), &*reader, parts, dim, encoding, traffic);
}

}  // namespace ps
