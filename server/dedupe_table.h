// Which pushes a shard has applied, per worker incarnation: the exactly-once record that a
// retried push is checked against (proto/parameter_server.proto, PushRequest.seq, states the
// rule). Per worker it keeps the newest incarnation, the highest seq applied and a 64-seq window
// below it, like an anti-replay window: a seq in the window that was never applied (pushes that
// overtook each other) is still applied once, and a seq too old to be proven either way is an
// error rather than a silent acknowledgement.
//
// Part of the shard's state: replicated (every replica records the same pushes in the same order)
// and serialised with it. Not thread-safe: the owning TableShard serialises access.
#ifndef PS_SERVER_DEDUPE_TABLE_H_
#define PS_SERVER_DEDUPE_TABLE_H_

#include <cstdint>
#include <map>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "proto/parameter_server.pb.h"

namespace ps {

class DedupeTable {
 public:
  // Seqs remembered below the highest applied one.
  static constexpr uint64_t kWindow = 64;

  // Whether (worker, incarnation, seq) was applied already (true: a duplicate to acknowledge).
  // Errors: FailedPrecondition for an incarnation older than the newest seen, for seq 0, and for
  // a seq more than kWindow below the highest applied.
  absl::StatusOr<bool> Check(uint32_t worker, uint64_t incarnation, uint64_t seq) const;
  // Records an applied push. REQUIRES: Check(...) returned false for it.
  void Record(uint32_t worker, uint64_t incarnation, uint64_t seq);

  // Canonical (ascending worker id) records, and their inverse.
  void Serialize(google::protobuf::RepeatedPtrField<v1::DedupeRecord>* records) const;
  void Install(const google::protobuf::RepeatedPtrField<v1::DedupeRecord>& records);

 private:
  struct Entry {
    uint64_t incarnation = 0;
    uint64_t highest_seq = 0;
    // Bit i: seq highest_seq - 1 - i was applied.
    uint64_t window = 0;
  };
  std::map<uint32_t, Entry> workers_;
};

}  // namespace ps

#endif  // PS_SERVER_DEDUPE_TABLE_H_
