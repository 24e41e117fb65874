#include "server/coordinator/etcd_state_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

bool Unreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

std::string EtcdStateKey(const std::string& cluster) {
  return absl::StrCat("/ps/", cluster, "/state");
}

std::string EtcdElectionName(const std::string& cluster) {
  return absl::StrCat("/ps/", cluster, "/election");
}

absl::Status ValidateClusterName(const std::string& cluster) {
  if (cluster.empty() || absl::StrContains(cluster, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_name=\"", cluster, "\": must be non-empty and contain no '/' (it names the "
        "etcd keys /ps/NAME/...)"));
  }
  return absl::OkStatus();
}

EtcdStateStore::EtcdStateStore(EtcdClient& etcd, EtcdLeaderKey leader,
                               const EtcdStateStoreOptions& options, DeposedCallback on_deposed)
    : etcd_(etcd),
      leader_(std::move(leader)),
      options_(options),
      key_(EtcdStateKey(options.cluster)),
      on_deposed_(std::move(on_deposed)) {}

std::string EtcdStateStore::Describe() const {
  return absl::StrCat("etcd key ", key_);
}

absl::StatusOr<std::optional<EtcdKeyValue>> EtcdStateStore::ReadWithRetries(absl::Time give_up) {
  absl::Duration backoff = options_.initial_backoff;
  bool logged = false;
  while (true) {
    absl::StatusOr<std::optional<EtcdKeyValue>> read = etcd_.Get(key_);
    if (read.ok() || !Unreachable(read.status())) return read;
    if (absl::Now() + backoff >= give_up) return read;
    if (!logged) {
      spdlog::warn("etcd unreachable while reading {} ({}); retrying", key_,
                   read.status().ToString());
      logged = true;
    }
    absl::SleepFor(backoff);  // Backoff between attempts, not synchronisation.
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<std::optional<v1::CoordinatorState>> EtcdStateStore::Load() {
  absl::StatusOr<std::optional<EtcdKeyValue>> read =
      ReadWithRetries(absl::Now() + options_.give_up_after);
  if (!read.ok()) return read.status();
  absl::MutexLock lock(&mu_);
  if (!read->has_value()) {
    mod_revision_ = 0;
    return std::nullopt;
  }
  v1::CoordinatorState state;
  if (!state.ParseFromString((*read)->value)) {
    return absl::DataLossError(absl::StrCat(
        "etcd key ", key_, " (mod revision ", (*read)->mod_revision, ", ", (*read)->value.size(),
        " bytes) does not hold a coordinator state"));
  }
  mod_revision_ = (*read)->mod_revision;
  return state;
}

absl::Status EtcdStateStore::Deposed(absl::Status why) {
  if (on_deposed_) on_deposed_(why);
  return why;
}

absl::Status EtcdStateStore::Save(const v1::CoordinatorState& state) {
  const std::string bytes = state.SerializeAsString();
  absl::MutexLock lock(&mu_);
  const absl::Time give_up = absl::Now() + options_.give_up_after;
  absl::Duration backoff = options_.initial_backoff;
  int attempt = 0;
  absl::Status last_error;
  while (true) {
    ++attempt;
    absl::StatusOr<EtcdGuardedPutResult> put =
        etcd_.GuardedPut(leader_, key_, mod_revision_, bytes);
    if (put.ok() && put->succeeded) {
      if (attempt > 1) spdlog::info("etcd reachable again: state saved (attempt {})", attempt);
      mod_revision_ = put->revision;
      if (++saves_since_compaction_ >= options_.compact_every_saves) Compact(put->revision);
      return absl::OkStatus();
    }
    if (put.ok()) {
      // Refused. An earlier attempt of this very save may have committed before its answer was
      // lost: then the state holds our bytes (generations make every save's bytes distinct).
      if (put->current.has_value() && put->current->value == bytes) {
        mod_revision_ = put->current->mod_revision;
        spdlog::info("etcd: an earlier attempt of this save had committed (mod revision {})",
                     mod_revision_);
        return absl::OkStatus();
      }
      if (!put->leader_key_holds) {
        return Deposed(absl::FailedPreconditionError(absl::StrCat(
            "deposed: the leader key ", leader_.key, " (create revision ",
            leader_.create_revision, ") is gone from etcd; another coordinator may lead")));
      }
      return Deposed(absl::AbortedError(absl::StrCat(
          "the state at ", key_, " changed under this leader (mod revision ",
          put->current.has_value() ? put->current->mod_revision : 0, ", expected ",
          mod_revision_, "); another writer is active")));
    }
    if (!Unreachable(put.status())) return put.status();
    // Unknown outcome: read back before deciding to retry.
    last_error = put.status();
    if (attempt == 1) {
      spdlog::warn("etcd unreachable while saving the cluster state ({}); retrying for up to {}",
                   last_error.ToString(), absl::FormatDuration(options_.give_up_after));
    }
    absl::StatusOr<std::optional<EtcdKeyValue>> read = ReadWithRetries(give_up);
    if (read.ok() && read->has_value() && (*read)->value == bytes) {
      mod_revision_ = (*read)->mod_revision;
      spdlog::info("etcd reachable again: the save had committed (mod revision {})",
                   mod_revision_);
      return absl::OkStatus();
    }
    if (!read.ok()) last_error = read.status();
    // Not committed (or still unknown): the guarded put is safe to repeat, since it can only
    // commit against the mod revision we expect.
    if (absl::Now() + backoff >= give_up) break;
    absl::SleepFor(backoff);  // Backoff between attempts, not synchronisation.
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return absl::UnavailableError(absl::StrCat("etcd unreachable for ",
                                             absl::FormatDuration(options_.give_up_after),
                                             "; the change is not saved: ", last_error.message()));
}

void EtcdStateStore::Compact(int64_t revision) {
  saves_since_compaction_ = 0;
  const int64_t before = revision - options_.keep_revisions;
  if (before <= 0) return;
  // Best effort: an uncompacted history costs space, not correctness.
  if (absl::Status compacted = etcd_.Compact(before); !compacted.ok()) {
    spdlog::debug("etcd compaction to revision {} failed: {}", before, compacted.ToString());
  }
}

}  // namespace ps
