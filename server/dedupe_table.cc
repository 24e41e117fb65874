#include "server/dedupe_table.h"

#include "absl/strings/str_cat.h"

namespace ps {

absl::StatusOr<bool> DedupeTable::Check(uint32_t worker, uint64_t incarnation,
                                        uint64_t seq) const {
  if (seq == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker, ": push seq 0 is reserved; number pushes from 1"));
  }
  const auto it = workers_.find(worker);
  if (it == workers_.end() || incarnation > it->second.incarnation) return false;
  const Entry& entry = it->second;
  if (incarnation < entry.incarnation) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker, " incarnation ", incarnation,
                     " was replaced by incarnation ", entry.incarnation));
  }
  if (seq > entry.highest_seq) return false;
  if (seq == entry.highest_seq) return true;
  const uint64_t below = entry.highest_seq - seq;  // >= 1
  if (below > kWindow) {
    return absl::FailedPreconditionError(absl::StrCat(
        "worker ", worker, " push seq ", seq, " is more than ", kWindow,
        " below the highest applied (", entry.highest_seq,
        "): it cannot be told apart from a duplicate; a retry must come sooner"));
  }
  return ((entry.window >> (below - 1)) & 1) != 0;
}

void DedupeTable::Record(uint32_t worker, uint64_t incarnation, uint64_t seq) {
  Entry& entry = workers_[worker];
  if (incarnation != entry.incarnation) entry = Entry{incarnation, 0, 0};
  if (seq > entry.highest_seq) {
    const uint64_t shift = seq - entry.highest_seq;
    // The old highest becomes bit shift - 1 (if it was a real push, i.e. not the empty start).
    uint64_t window = shift >= 64 ? 0 : entry.window << shift;
    if (entry.highest_seq != 0 && shift <= 64) window |= uint64_t{1} << (shift - 1);
    entry.window = window;
    entry.highest_seq = seq;
    return;
  }
  entry.window |= uint64_t{1} << (entry.highest_seq - seq - 1);
}

void DedupeTable::Serialize(google::protobuf::RepeatedPtrField<v1::DedupeRecord>* records) const {
  for (const auto& [worker, entry] : workers_) {
    v1::DedupeRecord* record = records->Add();
    record->set_worker_id(worker);
    record->set_incarnation(entry.incarnation);
    record->set_highest_seq(entry.highest_seq);
    record->set_window(entry.window);
  }
}

void DedupeTable::Install(const google::protobuf::RepeatedPtrField<v1::DedupeRecord>& records) {
  workers_.clear();
  for (const v1::DedupeRecord& record : records) {
    workers_[record.worker_id()] = Entry{record.incarnation(), record.highest_seq(), record.window()};
  }
}

}  // namespace ps
