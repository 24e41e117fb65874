// Receives a snapshot (a ShardState frame) in chunks of any size and installs it into a learner's
// TableShard. For stores that know their layout from the header (dense), each chunk is copied
// straight into the store's arrays as it arrives, so a 64 MB snapshot is never staged whole in
// freshly allocated memory; otherwise the chunks are kept and installed at the end.
//
// One thread only. The shard's mutex is taken briefly to begin and to finish; the copying runs
// without it (an uninstalled learner's store is read by nobody).
#ifndef PS_SERVER_SNAPSHOT_SINK_H_
#define PS_SERVER_SNAPSHOT_SINK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/parameter_server.pb.h"
#include "server/table_shard.h"

namespace ps {

class SnapshotSink {
 public:
  // `shard` must be a learner waiting for its snapshot.
  explicit SnapshotSink(std::shared_ptr<TableShard> shard) : shard_(std::move(shard)) {}

  // Takes the next bytes of the frame. Errors: InvalidArgument for a frame that does not fit the
  // shard (its header, or more bytes than the header describes); FailedPrecondition when the
  // shard stopped waiting for a snapshot. After an error the sink takes nothing more.
  absl::Status Add(absl::string_view bytes);
  // Completes the installation once every byte arrived; the callbacks of entries the learner had
  // queued go to `finished`. Errors: InvalidArgument for a short frame; those of Add.
  absl::Status Finish(FinishedCallbacks* finished);

  const v1::ShardState& state() const { return state_; }
  uint64_t bytes_received() const { return received_; }

 private:
  absl::Status Fill(absl::string_view bytes);

  const std::shared_ptr<TableShard> shard_;
  absl::Status error_;
  uint64_t received_ = 0;
  // The frame's length prefix and header, until parsed.
  std::string head_;
  bool header_parsed_ = false;
  v1::ShardState state_;
  // In place: the ranges still to fill (front first) and how far into the first.
  std::optional<std::vector<absl::Span<char>>> ranges_;
  size_t range_ = 0;
  size_t offset_ = 0;
  // Otherwise: the payload, kept for Install.
  std::string staged_;
};

}  // namespace ps

#endif  // PS_SERVER_SNAPSHOT_SINK_H_
