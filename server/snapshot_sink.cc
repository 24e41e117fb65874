#include "server/snapshot_sink.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/frame.h"

namespace ps {
namespace {

constexpr size_t kLengthBytes = 4;
// A ShardState header carries per-worker records and pending clocks: small. A longer one is
// refused rather than buffered without bound.
constexpr size_t kMaxHeaderBytes = size_t{64} << 20;

}  // namespace

absl::Status SnapshotSink::Add(absl::string_view bytes) {
  if (!error_.ok()) return error_;
  received_ += bytes.size();
  while (!header_parsed_) {
    if (head_.size() < kLengthBytes) {
      const size_t take = std::min(bytes.size(), kLengthBytes - head_.size());
      head_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (head_.size() < kLengthBytes) return absl::OkStatus();
    }
    uint32_t length = 0;
    for (size_t i = 0; i < kLengthBytes; ++i) {
      length |= static_cast<uint32_t>(static_cast<unsigned char>(head_[i])) << (8 * i);
    }
    if (length > kMaxHeaderBytes) {
      return error_ = absl::InvalidArgumentError("the snapshot's header is implausibly long");
    }
    const size_t wanted = kLengthBytes + length;
    const size_t take = std::min(bytes.size(), wanted - head_.size());
    head_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (head_.size() < wanted) return absl::OkStatus();
    if (!state_.ParseFromArray(head_.data() + kLengthBytes, static_cast<int>(length))) {
      return error_ = absl::InvalidArgumentError("the snapshot's header does not parse");
    }
    header_parsed_ = true;
    absl::MutexLock lock(&shard_->mu());
    absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> ranges =
        shard_->BeginInstallInPlaceLocked(state_);
    if (!ranges.ok()) return error_ = ranges.status();
    ranges_ = *std::move(ranges);
  }
  if (bytes.empty()) return absl::OkStatus();
  return Fill(bytes);
}

absl::Status SnapshotSink::Fill(absl::string_view bytes) {
  if (!ranges_.has_value()) {
    staged_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  std::vector<absl::Span<char>>& ranges = *ranges_;
  while (!bytes.empty()) {
    if (range_ == ranges.size()) {
      return error_ = absl::InvalidArgumentError(
                 "the snapshot carries more bytes than its header describes");
    }
    absl::Span<char> target = ranges[range_];
    const size_t n = std::min(bytes.size(), target.size() - offset_);
    std::memcpy(target.data() + offset_, bytes.data(), n);
    bytes.remove_prefix(n);
    offset_ += n;
    if (offset_ == target.size()) {
      ++range_;
      offset_ = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status SnapshotSink::Finish(FinishedCallbacks* finished) {
  if (!error_.ok()) return error_;
  if (!header_parsed_) return error_ = absl::InvalidArgumentError("the snapshot ended early");
  absl::MutexLock lock(&shard_->mu());
  if (ranges_.has_value()) {
    // Skip empty trailing ranges (an empty shard range).
    while (range_ < ranges_->size() && (*ranges_)[range_].size() == offset_) {
      ++range_;
      offset_ = 0;
    }
    if (range_ != ranges_->size()) {
      return error_ = absl::InvalidArgumentError(
                 "the snapshot ended before every array its header describes");
    }
    shard_->FinishInstallInPlaceLocked(state_, finished);
    return absl::OkStatus();
  }
  grpc::Slice payload(staged_.data(), staged_.size());
  const grpc::ByteBuffer frame = MakeFrame(state_, {payload});
  v1::ShardState parsed;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &parsed);
  if (!reader.ok()) return error_ = reader.status();
  return error_ = shard_->InstallLocked(parsed, *reader, finished);
}

}  // namespace ps
