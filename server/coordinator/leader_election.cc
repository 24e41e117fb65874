#include "server/coordinator/leader_election.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

bool Unreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

LeaderElection::LeaderElection(EtcdClient& etcd, const LeaderElectionOptions& options,
                               Clock clock)
    : etcd_(etcd), options_(options), clock_(std::move(clock)) {}

LeaderElection::~LeaderElection() {
  Stop();
  if (renew_thread_.joinable()) renew_thread_.join();
}

absl::Duration LeaderElection::granted_ttl() const {
  absl::MutexLock lock(&mu_);
  return ttl_;
}

bool LeaderElection::MayServe() const {
  absl::MutexLock lock(&mu_);
  return office_.has_value() && !lost_.has_value() && fence_.MayAct(clock_());
}

void LeaderElection::MarkDeposed(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (!lost_.has_value()) lost_ = why;
}

absl::Status LeaderElection::AwaitLoss() {
  absl::MutexLock lock(&mu_);
  const auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || (office_.has_value() && lost_.has_value());
  };
  mu_.Await(absl::Condition(&done));
  if (office_.has_value() && lost_.has_value()) return *lost_;
  return absl::CancelledError("the election was stopped");
}

void LeaderElection::Stop() {
  bool campaigning = false;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    campaigning = !office_.has_value();
  }
  // A leader has no campaign to cancel (and cancelling is for good in the client).
  if (campaigning) etcd_.CancelCampaign();
}

void LeaderElection::Resign() {
  Stop();
  if (renew_thread_.joinable()) renew_thread_.join();
  std::optional<EtcdLeaderKey> office;
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    office = office_;
    lease = lease_;
    fence_.Lost();
    if (!lost_.has_value()) lost_ = absl::CancelledError("resigned");
  }
  if (office.has_value()) {
    if (absl::Status resigned = etcd_.Resign(*office); resigned.ok()) {
      spdlog::info("resigned the leadership of {}", options_.election);
    } else {
      spdlog::warn("could not resign ({}); a standby leads once the lease expires",
                   resigned.ToString());
    }
  }
  if (lease != 0) {
    if (absl::Status revoked = etcd_.RevokeLease(lease); !revoked.ok()) {
      spdlog::debug("could not revoke lease {:x}: {}", lease, revoked.ToString());
    }
  }
}

bool LeaderElection::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithDeadline(absl::Condition(&stopping), deadline);
  return !stopping_;
}

absl::Status LeaderElection::GrantLease() {
  const absl::Time requested = clock_();
  absl::StatusOr<EtcdLease> lease = etcd_.GrantLease(options_.requested_ttl);
  if (!lease.ok()) return lease.status();
  if (lease->ttl <= absl::ZeroDuration()) {
    return absl::InternalError(absl::StrCat("etcd granted lease ", lease->id, " a TTL of ",
                                            absl::FormatDuration(lease->ttl)));
  }
  if (lease->ttl > options_.requested_ttl) {
    spdlog::warn(
        "etcd granted a lease TTL of {} instead of the {} asked (etcd raises TTLs below 1.5 "
        "election timeouts; run etcd with --election-timeout=500 --heartbeat-interval=50 for "
        "1 s): failover takes about that much longer",
        absl::FormatDuration(lease->ttl), absl::FormatDuration(options_.requested_ttl));
  }
  spdlog::info("etcd lease {:x} granted with TTL {}; renewed every {}", lease->id,
               absl::FormatDuration(lease->ttl),
               absl::FormatDuration(absl::Trunc(lease->ttl / 3, absl::Milliseconds(1))));
  bool start_thread = false;
  {
    absl::MutexLock lock(&mu_);
    lease_ = lease->id;
    ttl_ = lease->ttl;
    fence_.Granted(lease->ttl, requested);
    start_thread = !renewing_;
    renewing_ = true;
  }
  if (start_thread) renew_thread_ = std::thread([this] { RenewLoop(); });
  return absl::OkStatus();
}

absl::StatusOr<EtcdLeaderKey> LeaderElection::Lead() {
  bool logged_unreachable = false;
  while (true) {
    int64_t lease = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("the election was stopped");
      lease = lease_;
    }
    if (lease == 0) {
      if (absl::Status granted = GrantLease(); !granted.ok()) {
        if (!logged_unreachable) {
          spdlog::warn("etcd: cannot grant a lease ({}); retrying", granted.ToString());
          logged_unreachable = true;
        }
        WaitUntil(absl::Now() + options_.retry_backoff);
      }
      continue;
    }
    absl::StatusOr<EtcdLeaderKey> office = etcd_.Campaign(
        options_.election, lease, options_.candidate, absl::Now() + options_.campaign_period);
    if (office.ok()) {
      absl::MutexLock lock(&mu_);
      if (lease_ != lease || !fence_.MayAct(clock_())) {
        // The lease lapsed while we waited (etcd unreachable): the key etcd counts as leading
        // may already be gone. Start over with a new lease rather than lead on a dead one.
        spdlog::warn("campaign won on lease {:x}, which may have lapsed; campaigning again with a "
                     "new lease", lease);
        lease_ = 0;
        continue;
      }
      office_ = *office;
      lost_.reset();
      if (logged_unreachable) spdlog::info("etcd reachable again");
      return *office;
    }
    const absl::Status& error = office.status();
    if (absl::IsNotFound(error)) {
      spdlog::warn("lease {:x} is gone ({}); granting a new one", lease, error.ToString());
      absl::MutexLock lock(&mu_);
      if (lease_ == lease) lease_ = 0;
      continue;
    }
    if (absl::IsCancelled(error) || absl::IsDeadlineExceeded(error)) continue;  // Re-issue.
    if (!logged_unreachable) {
      spdlog::warn("etcd: campaign failed ({}); {}", error.ToString(),
                   Unreachable(error) ? "etcd unreachable, retrying" : "retrying");
      logged_unreachable = true;
    }
    WaitUntil(absl::Now() + options_.retry_backoff);
  }
}

void LeaderElection::RenewLoop() {
  bool logged_unreachable = false;
  bool fenced = false;
  while (true) {
    int64_t lease = 0;
    absl::Duration ttl;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      lease = lease_;
      ttl = ttl_;
    }
    if (lease == 0) {  // Lead() is granting a new one.
      if (!WaitUntil(absl::Now() + options_.retry_backoff)) return;
      continue;
    }
    const absl::Time requested = clock_();
    const absl::Time started = absl::Now();
    absl::StatusOr<absl::Duration> renewed = etcd_.KeepAlive(lease, started + ttl / 3);
    if (renewed.ok() && *renewed > absl::ZeroDuration()) {
      std::function<void()> on_resume;
      {
        absl::MutexLock lock(&mu_);
        if (office_.has_value() && !lost_.has_value() && !fence_.MayAct(clock_())) {
          on_resume = on_resume_;
        }
      }
      // Before MayServe() turns true again (see SetResumeCallback).
      if (on_resume) on_resume();
    }
    {
      absl::MutexLock lock(&mu_);
      if (lease_ != lease) continue;
      if (renewed.ok() && *renewed > absl::ZeroDuration()) {
        fence_.Renewed(requested);
        if (logged_unreachable) spdlog::info("etcd reachable again: lease {:x} renewed", lease);
        logged_unreachable = false;
      } else if (renewed.ok()) {
        fence_.Lost();
        if (office_.has_value()) {
          if (!lost_.has_value()) {
            lost_ = absl::FailedPreconditionError(absl::StrCat(
                "deposed: etcd let lease ", absl::Hex(lease), " expire (no renewal answered for a "
                "whole TTL of ", absl::FormatDuration(ttl), "); another coordinator may lead"));
          }
        } else {
          spdlog::warn("lease {:x} expired while standing by; granting a new one", lease);
          lease_ = 0;
        }
      } else if (!logged_unreachable) {
        spdlog::warn("etcd unreachable: lease {:x} renewal failed ({}); retrying", lease,
                     renewed.status().ToString());
        logged_unreachable = true;
      }
      if (office_.has_value() && !lost_.has_value()) {
        const bool may_act = fence_.MayAct(clock_());
        if (!may_act && !fenced) {
          spdlog::warn("not serving: the lease may lapse (no renewal answered since {}); "
                       "serving again once etcd renews it",
                       absl::FormatTime("%H:%M:%E3S", fence_.ValidUntil() - (ttl - ttl / 3),
                                        absl::LocalTimeZone()));
        } else if (may_act && fenced) {
          spdlog::info("lease renewed: serving again");
        }
        fenced = !may_act;
      }
    }
    // The next renewal a third of the TTL after this one was sent; at once after a failure
    // that took that long.
    if (!WaitUntil(started + ttl / 3)) return;
  }
}

}  // namespace ps
