#include "server/memory_quota.h"

#include "absl/strings/str_cat.h"

namespace ps {
namespace {

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes >> 20, " MiB"); }

}  // namespace

absl::Status MemoryQuota::Admit(uint32_t table_id, const std::string& table_name,
                                uint64_t more) const {
  if (more == 0) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  const auto found = by_table_.find(table_id);
  const uint64_t table_used = found == by_table_.end() ? 0 : static_cast<uint64_t>(found->second);
  if (limits_.table_bytes != 0 && table_used + more > limits_.table_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("table '", table_name, "' holds ", Mib(table_used),
                     " on this server and the push would "
                     "add ",
                     more, " bytes of new rows, beyond its quota of ", Mib(limits_.table_bytes),
                     " (ps_server --table_memory_mb); nothing was applied"));
  }
  const uint64_t server_used = static_cast<uint64_t>(used_);
  if (limits_.server_bytes != 0 && server_used + more > limits_.server_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this server holds ", Mib(server_used), " and the push would add ", more,
                     " bytes of new rows of table '", table_name, "', beyond its quota of ",
                     Mib(limits_.server_bytes), " (ps_server --memory_mb); nothing was applied"));
  }
  return absl::OkStatus();
}

void MemoryQuota::Charge(uint32_t table_id, int64_t delta) {
  if (delta == 0) return;
  absl::MutexLock lock(&mu_);
  used_ += delta;
  int64_t& table = by_table_[table_id];
  table += delta;
  if (table == 0) by_table_.erase(table_id);
}

uint64_t MemoryQuota::used() const {
  absl::MutexLock lock(&mu_);
  return static_cast<uint64_t>(used_);
}

uint64_t MemoryQuota::used(uint32_t table_id) const {
  absl::MutexLock lock(&mu_);
  const auto found = by_table_.find(table_id);
  return found == by_table_.end() ? 0 : static_cast<uint64_t>(found->second);
}

}  // namespace ps
