// An in-memory EtcdClient for unit tests: keys with etcd's revision rules, leases that end only
// when a test says so, an election where the oldest live candidate leads, and scripted faults
// (a call that fails, or a write that commits but whose answer is lost).
// Thread-safe (one mutex).
#ifndef PS_SERVER_COORDINATOR_ETCD_FAKE_H_
#define PS_SERVER_COORDINATOR_ETCD_FAKE_H_

#include <deque>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/coordinator/etcd_client.h"

namespace ps::testing {

class FakeEtcd final : public EtcdClient {
 public:
  // Faults, consumed one per call of that kind, in order.
  enum class Fault { kUnavailable, kCommitThenUnavailable };
  void FailNextPuts(std::deque<Fault> faults) {
    absl::MutexLock lock(&mu_);
    put_faults_ = std::move(faults);
  }
  void FailNextGets(int count) {
    absl::MutexLock lock(&mu_);
    get_failures_ = count;
  }
  void FailNextCampaigns(std::deque<absl::Status> errors) {
    absl::MutexLock lock(&mu_);
    campaign_errors_ = std::move(errors);
  }
  void FailNextKeepAlives(int count) {
    absl::MutexLock lock(&mu_);
    keepalive_failures_ = count;
  }
  // The TTL GrantLease answers, whatever is asked (etcd raises small ones).
  void set_granted_ttl(absl::Duration ttl) {
    absl::MutexLock lock(&mu_);
    granted_ttl_ = ttl;
  }
  // Ends `lease` as etcd does on expiry: deletes its keys.
  void ExpireLease(int64_t lease) {
    absl::MutexLock lock(&mu_);
    EndLease(lease);
  }
  // Writes `key` as another client would.
  void Put(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&mu_);
    PutLocked(key, value, 0);
  }
  int64_t revision() const {
    absl::MutexLock lock(&mu_);
    return revision_;
  }
  int64_t compacted() const {
    absl::MutexLock lock(&mu_);
    return compacted_;
  }
  int puts() const {
    absl::MutexLock lock(&mu_);
    return puts_;
  }
  int resigns() const {
    absl::MutexLock lock(&mu_);
    return resigns_;
  }
  int revokes() const {
    absl::MutexLock lock(&mu_);
    return revokes_;
  }
  int grants() const {
    absl::MutexLock lock(&mu_);
    return next_lease_ - 1;
  }
  int keepalives() const {
    absl::MutexLock lock(&mu_);
    return keepalives_;
  }
  bool HasKey(const std::string& key) const {
    absl::MutexLock lock(&mu_);
    return kvs_.count(key) > 0;
  }

  absl::StatusOr<std::optional<EtcdKeyValue>> Get(const std::string& key) override {
    absl::MutexLock lock(&mu_);
    if (get_failures_ > 0) {
      --get_failures_;
      return absl::UnavailableError("fake: etcd down");
    }
    const auto found = kvs_.find(key);
    if (found == kvs_.end()) return std::nullopt;
    return found->second.kv;
  }

  absl::StatusOr<EtcdGuardedPutResult> GuardedPut(const EtcdLeaderKey& leader,
                                                  const std::string& key,
                                                  int64_t expected_mod_revision,
                                                  const std::string& value) override {
    absl::MutexLock lock(&mu_);
    Fault fault = Fault::kUnavailable;
    const bool faulty = !put_faults_.empty();
    if (faulty) {
      fault = put_faults_.front();
      put_faults_.pop_front();
      if (fault == Fault::kUnavailable) return absl::UnavailableError("fake: etcd down");
    }
    const auto leader_kv = kvs_.find(leader.key);
    const bool leads =
        leader_kv != kvs_.end() && leader_kv->second.kv.create_revision == leader.create_revision;
    const auto current = kvs_.find(key);
    const int64_t mod = current == kvs_.end() ? 0 : current->second.kv.mod_revision;
    EtcdGuardedPutResult result;
    if (leads && mod == expected_mod_revision) {
      PutLocked(key, value, 0);
      result.succeeded = true;
      result.revision = revision_;
    } else {
      result.leader_key_holds = leads;
      if (current != kvs_.end()) result.current = current->second.kv;
    }
    if (faulty) return absl::UnavailableError("fake: connection lost after the commit");
    return result;
  }

  absl::Status Compact(int64_t revision) override {
    absl::MutexLock lock(&mu_);
    compacted_ = revision;
    return absl::OkStatus();
  }

  absl::StatusOr<EtcdLease> GrantLease(absl::Duration ttl) override {
    absl::MutexLock lock(&mu_);
    const int64_t id = next_lease_++;
    leases_[id] = true;
    return EtcdLease{id, granted_ttl_ > absl::ZeroDuration() ? granted_ttl_ : ttl};
  }

  absl::StatusOr<absl::Duration> KeepAlive(int64_t lease, absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++keepalives_;
    if (keepalive_failures_ > 0) {
      --keepalive_failures_;
      return absl::UnavailableError("fake: etcd down");
    }
    return leases_.count(lease) ? absl::Seconds(1) : absl::ZeroDuration();
  }

  absl::Status RevokeLease(int64_t lease) override {
    absl::MutexLock lock(&mu_);
    ++revokes_;
    if (!leases_.count(lease)) return absl::NotFoundError("fake: requested lease not found");
    EndLease(lease);
    return absl::OkStatus();
  }

  absl::StatusOr<EtcdLeaderKey> Campaign(const std::string& name, int64_t lease,
                                         const std::string& value, absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    if (!campaign_errors_.empty()) {
      const absl::Status error = campaign_errors_.front();
      campaign_errors_.pop_front();
      return error;
    }
    if (!leases_.count(lease)) return absl::NotFoundError("fake: requested lease not found");
    const std::string key = absl::StrCat(name, "/", absl::Hex(lease));
    if (!kvs_.count(key)) PutLocked(key, value, lease);
    const int64_t mine = kvs_[key].kv.create_revision;
    // Leads once no older candidate remains, i.e. until the deadline or a cancel.
    const auto leads = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (cancelled_) return true;
      for (const auto& [other, entry] : kvs_) {
        if (other.rfind(name + "/", 0) == 0 && entry.kv.create_revision < mine) return false;
      }
      return true;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&leads), deadline)) {
      kvs_.erase(key);  // etcd withdraws a candidacy whose call ended.
      return absl::DeadlineExceededError("fake: campaign deadline");
    }
    if (cancelled_) return absl::CancelledError("fake: cancelled");
    return EtcdLeaderKey{name, key, mine, lease};
  }

  void CancelCampaign() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  absl::Status Resign(const EtcdLeaderKey& leader) override {
    absl::MutexLock lock(&mu_);
    ++resigns_;
    const auto found = kvs_.find(leader.key);
    if (found != kvs_.end() && found->second.kv.create_revision == leader.create_revision) {
      kvs_.erase(found);
    }
    return absl::OkStatus();
  }

 private:
  struct Entry {
    EtcdKeyValue kv;
    int64_t lease = 0;
  };

  void PutLocked(const std::string& key, const std::string& value, int64_t lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++revision_;
    ++puts_;
    Entry& entry = kvs_[key];
    if (entry.kv.create_revision == 0) entry.kv.create_revision = revision_;
    entry.kv.mod_revision = revision_;
    entry.kv.value = value;
    entry.lease = lease;
  }

  void EndLease(int64_t lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    leases_.erase(lease);
    for (auto it = kvs_.begin(); it != kvs_.end();) {
      if (it->second.lease == lease) {
        it = kvs_.erase(it);
        ++revision_;
      } else {
        ++it;
      }
    }
  }

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> kvs_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, bool> leases_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t compacted_ ABSL_GUARDED_BY(mu_) = 0;
  int puts_ ABSL_GUARDED_BY(mu_) = 0;
  int resigns_ ABSL_GUARDED_BY(mu_) = 0;
  int revokes_ ABSL_GUARDED_BY(mu_) = 0;
  int keepalives_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration granted_ttl_ ABSL_GUARDED_BY(mu_);
  std::deque<Fault> put_faults_ ABSL_GUARDED_BY(mu_);
  int get_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<absl::Status> campaign_errors_ ABSL_GUARDED_BY(mu_);
  int keepalive_failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ps::testing

#endif  // PS_SERVER_COORDINATOR_ETCD_FAKE_H_
