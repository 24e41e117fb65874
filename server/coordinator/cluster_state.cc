#include "server/coordinator/cluster_state.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/metrics/metric_registry.h"
#include "common/table/table_spec.h"
#include "google/protobuf/util/message_differencer.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

// Events counted for Prometheus (status_http.h has the gauges). Counted when decided: a change
// the state store then refuses is undone but stays counted, as an attempt.
struct Events {
  // Every series is exposed from the start, at 0: Prometheus' increase() and rate() count from a
  // series' first sample, so a series born at 1 would hide the first death from an alert.
  Events() {
    for (const char* role : {"server", "worker"}) deaths.With({role});
  }

  Family<Counter>& deaths = GlobalMetrics().AddCounter(
      "ps_coordinator_members_declared_dead_total",
      "Members declared dead (silent past the failure timeout, unreachable, or left).", {"role"});
  Counter& failovers = GlobalMetrics()
                           .AddCounter("ps_coordinator_failovers_total",
                                       "Shards whose primary died and a backup took over.")
                           .With({});
  Counter& rereplications =
      GlobalMetrics()
          .AddCounter("ps_coordinator_rereplications_total",
                      "Learners added to bring a shard back to its replication factor.")
          .With({});
};

Events& CoordinatorEvents() {
  static Events* const events = new Events();
  return *events;
}

v1::ShardMove MoveToProto(const PlannedMove& move) {
  v1::ShardMove proto;
  proto.set_shard_id(move.shard);
  proto.set_from_server(move.from);
  proto.set_to_server(move.to);
  proto.set_lead(move.lead);
  proto.set_reason(move.reason);
  proto.set_handing_over(move.handing_over);
  return proto;
}

const char* RoleName(v1::MemberRef::Role role) {
  return role == v1::MemberRef::ROLE_SERVER ? "server" : "worker";
}

absl::Status ValidateAddress(const std::string& address, bool may_be_empty) {
  if (address.empty() && may_be_empty) return absl::OkStatus();
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' is not host:port with a port in 1..65535"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateClusterOptions(const ClusterOptions& options) {
  if (options.num_shards == 0 || options.num_shards > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_shards must be in 1..65536, got ", options.num_shards));
  }
  if (options.replication_factor == 0) {
    return absl::InvalidArgumentError("replication_factor must be at least 1");
  }
  if (options.min_servers < options.replication_factor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_servers (", options.min_servers, ") must be at least replication_factor (",
        options.replication_factor, ") so replicas can sit on distinct servers"));
  }
  if (options.heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("heartbeat_interval must be positive");
  }
  if (options.failure_timeout < 2 * options.heartbeat_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("failure_timeout (", absl::FormatDuration(options.failure_timeout),
                     ") must be at least twice heartbeat_interval (",
                     absl::FormatDuration(options.heartbeat_interval),
                     ") or one late heartbeat kills a healthy member"));
  }
  if (options.max_concurrent_moves == 0) {
    return absl::InvalidArgumentError("max_concurrent_moves must be at least 1");
  }
  return absl::OkStatus();
}

absl::Duration ServerLease(const ClusterOptions& options) {
  return options.failure_timeout * 3 / 4;
}

ClusterState::ClusterState(const ClusterOptions& options, absl::Time start) : options_(options) {
  CoordinatorEvents();  // On /metrics (at 0) before the first event, not from it.
  absl::MutexLock lock(&mu_);
  s_.next_incarnation = static_cast<uint64_t>(absl::ToUnixMicros(start));
  s_.map.set_num_shards(options.num_shards);
  s_.map.set_replication_factor(options.replication_factor);
  s_.map.set_epoch(1);
}

absl::StatusOr<Registration> ClusterState::RegisterServer(const std::string& address,
                                                          absl::Time now) {
  absl::Status valid = ValidateAddress(address, /*may_be_empty=*/false);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  Data before = s_;
  Registration registration;
  registration.id = s_.next_server_id++;
  registration.incarnation = s_.next_incarnation++;
  v1::ServerInfo* server = s_.map.add_servers();
  server->set_server_id(registration.id);
  server->set_incarnation(registration.incarnation);
  server->set_address(address);
  server->set_state(v1::MEMBER_STATE_ALIVE);
  s_.liveness[{v1::MemberRef::ROLE_SERVER, registration.id}] = {now, 0};
  const bool placed_before = !s_.chains.empty();
  spdlog::info("server {} joined from {} (incarnation {}); {} servers alive{}", registration.id,
               address, registration.incarnation, AliveServers().size(),
               !placed_before       ? ""
               : options_.rebalance ? "; replicas move to it a few at a time (rebalancing)"
                                    : "; a spare unless re-replication needs it");
  const bool placed = MaybePlaceShards();
  // A shard may have been short of R for want of a server that did not hold it.
  const bool learners_added = Reconcile();
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/placed || learners_added,
                 /*membership_changed=*/true);
      !committed.ok()) {
    return committed;
  }
  registration.map = s_.map;
  return registration;
}

absl::StatusOr<Registration> ClusterState::RegisterWorker(const std::string& address,
                                                          absl::Time now) {
  absl::Status valid = ValidateAddress(address, /*may_be_empty=*/true);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  Data before = s_;
  std::set<uint32_t> taken_ranks;
  for (const v1::WorkerInfo& worker : s_.map.workers()) {
    if (worker.state() == v1::MEMBER_STATE_ALIVE) taken_ranks.insert(worker.rank());
  }
  Registration registration;
  while (taken_ranks.count(registration.rank) > 0 ||
         s_.finished_ranks.count(registration.rank) > 0) {
    ++registration.rank;
  }
  registration.id = s_.next_worker_id++;
  registration.incarnation = s_.next_incarnation++;
  if (const auto it = s_.rank_progress.find(registration.rank); it != s_.rank_progress.end()) {
    registration.steps_done = it->second;
  }
  registration.job_running = s_.job_running;
  s_.job_ranks.insert(registration.rank);
  v1::WorkerInfo* worker = s_.map.add_workers();
  worker->set_worker_id(registration.id);
  worker->set_incarnation(registration.incarnation);
  worker->set_address(address);
  worker->set_state(v1::MEMBER_STATE_ALIVE);
  worker->set_rank(registration.rank);
  s_.liveness[{v1::MemberRef::ROLE_WORKER, registration.id}] = {now, 0};
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/false, /*membership_changed=*/true);
      !committed.ok()) {
    return committed;
  }
  spdlog::info("worker {} joined (rank {}, incarnation {}{}); membership version {}",
               registration.id, registration.rank, registration.incarnation,
               registration.steps_done > 0
                   ? absl::StrCat(", resuming after step ", registration.steps_done)
                   : "",
               s_.map.membership_version());
  registration.map = s_.map;
  return registration;
}

absl::Status ClusterState::CheckAlive(const v1::MemberRef& member) const {
  const auto matches = [&](uint32_t id, uint64_t incarnation, v1::MemberState state) {
    return id == member.id() && incarnation == member.incarnation() &&
           state == v1::MEMBER_STATE_ALIVE;
  };
  bool found = false;
  if (member.role() == v1::MemberRef::ROLE_SERVER) {
    for (const v1::ServerInfo& s : s_.map.servers()) {
      found = found || matches(s.server_id(), s.incarnation(), s.state());
    }
  } else if (member.role() == v1::MemberRef::ROLE_WORKER) {
    for (const v1::WorkerInfo& w : s_.map.workers()) {
      found = found || matches(w.worker_id(), w.incarnation(), w.state());
    }
  }
  if (found) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat(
      "no live ", RoleName(member.role()), " ", member.id(), " with incarnation ",
      member.incarnation(), "; it was declared dead or never registered: register again"));
}

absl::Status ClusterState::CheckAliveServer(const v1::MemberRef& member) const {
  if (member.role() != v1::MemberRef::ROLE_SERVER) {
    return absl::NotFoundError(absl::StrCat("member ", member.ShortDebugString(),
                                            " is not a server; only servers hold shards"));
  }
  return CheckAlive(member);
}

absl::StatusOr<uint64_t> ClusterState::Heartbeat(const v1::MemberRef& member, uint64_t known_epoch,
                                                 absl::Time now, uint64_t steps_done) {
  absl::MutexLock lock(&mu_);
  absl::Status alive = CheckAlive(member);
  if (!alive.ok()) return alive;
  s_.liveness[{member.role(), member.id()}] = {now, known_epoch};
  if (member.role() == v1::MemberRef::ROLE_WORKER && steps_done > 0) {
    s_.job_running = true;
    for (const v1::WorkerInfo& worker : s_.map.workers()) {
      if (worker.worker_id() != member.id()) continue;
      uint64_t& progress = s_.rank_progress[worker.rank()];
      if (steps_done > progress) progress_unsaved_ = true;
      progress = std::max(progress, steps_done);
    }
  }
  return s_.map.epoch();
}

absl::Status ClusterState::RestoreFrom(const v1::CheckpointManifest& manifest,
                                       const std::string& directory) {
  absl::MutexLock lock(&mu_);
  if (s_.map.servers_size() > 0 || s_.map.workers_size() > 0 || s_.map.tables_size() > 0) {
    return absl::FailedPreconditionError(
        "a checkpoint is restored before any member registers or table is created");
  }
  Data before = s_;
  if (manifest.num_shards() != options_.num_shards) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", manifest.checkpoint_id(), " was written with ", manifest.num_shards(),
        " shards; this coordinator has --num_shards=", options_.num_shards,
        " (shards are the unit of a checkpoint: start it with --num_shards=", manifest.num_shards(),
        ")"));
  }
  v1::RestoreSource* restore = s_.map.mutable_restore();
  restore->set_directory(directory);
  restore->set_checkpoint_id(manifest.checkpoint_id());
  for (const v1::TableInfo& table : manifest.tables()) {
    *s_.map.add_tables() = table;
    restore->add_table_ids(table.table_id());
  }
  s_.map.set_catalog_version(manifest.catalog_version());
  s_.map.set_epoch(std::max(s_.map.epoch(), manifest.epoch() + 1));
  s_.next_incarnation = std::max(s_.next_incarnation, manifest.max_incarnation() + 1);
  s_.next_server_id = std::max(s_.next_server_id, manifest.next_server_id());
  s_.next_worker_id = std::max(s_.next_worker_id, manifest.next_worker_id());
  for (const v1::RankProgress& rank : manifest.progress()) {
    s_.rank_progress[rank.rank()] = rank.steps_done();
  }
  s_.restored_from = manifest.checkpoint_id();
  return Commit(std::move(before), /*shards_changed=*/false, /*membership_changed=*/false);
}

std::optional<uint64_t> ClusterState::SlowestLiveRankSteps() const {
  absl::MutexLock lock(&mu_);
  std::optional<uint64_t> slowest;
  for (const v1::WorkerInfo& worker : s_.map.workers()) {
    if (worker.state() != v1::MEMBER_STATE_ALIVE) continue;
    const auto it = s_.rank_progress.find(worker.rank());
    if (it == s_.rank_progress.end()) continue;
    slowest = std::min(slowest.value_or(it->second), it->second);
  }
  return slowest;
}

void ClusterState::FillManifest(v1::CheckpointManifest* manifest) const {
  absl::MutexLock lock(&mu_);
  manifest->set_num_shards(options_.num_shards);
  *manifest->mutable_tables() = s_.map.tables();
  manifest->set_catalog_version(s_.map.catalog_version());
  manifest->set_epoch(s_.map.epoch());
  manifest->set_max_incarnation(s_.next_incarnation - 1);
  manifest->set_next_server_id(s_.next_server_id);
  manifest->set_next_worker_id(s_.next_worker_id);
  manifest->clear_progress();
  for (const auto& [rank, steps] : s_.rank_progress) {
    v1::RankProgress* progress = manifest->add_progress();
    progress->set_rank(rank);
    progress->set_steps_done(steps);
  }
}

absl::StatusOr<uint64_t> ClusterState::Leave(const v1::MemberRef& member, bool finished) {
  absl::MutexLock lock(&mu_);
  absl::Status alive = CheckAlive(member);
  if (!alive.ok()) return alive;
  Data before = s_;
  const bool removed = MarkDead({member.role(), member.id()},
                                finished ? "left the cluster, its share done" : "left the cluster");
  if (finished && member.role() == v1::MemberRef::ROLE_WORKER) {
    bool workers_alive = false;
    for (const v1::WorkerInfo& worker : s_.map.workers()) {
      if (worker.worker_id() == member.id()) s_.finished_ranks.insert(worker.rank());
      workers_alive |= worker.state() == v1::MEMBER_STATE_ALIVE;
    }
    bool all_finished = !workers_alive;
    for (const auto& [rank, steps] : s_.rank_progress)
      all_finished &= s_.finished_ranks.count(rank) > 0;
    for (uint32_t rank : s_.job_ranks) all_finished &= s_.finished_ranks.count(rank) > 0;
    if (all_finished) {
      spdlog::info("every rank finished its share: the job is over");
      s_.rank_progress.clear();
      s_.job_ranks.clear();
      s_.finished_ranks.clear();
      s_.job_running = false;
    }
  }
  const bool learners_added = Reconcile();
  if (absl::Status committed = Commit(std::move(before), removed || learners_added,
                                      /*membership_changed=*/true);
      !committed.ok()) {
    return committed;
  }
  return s_.map.epoch();
}

std::vector<v1::MemberRef> ClusterState::ExpireSilentMembers(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<MemberKey> silent;
  for (const auto& [key, liveness] : s_.liveness) {
    if (now - liveness.last_heartbeat > options_.failure_timeout) silent.push_back(key);
  }
  if (silent.empty()) return {};
  // While the store refuses saves, a sweep would be undone anyway: try the save alone first, so
  // the deaths are decided (and logged) once, when they can be kept.
  if (!sink_error_.empty() && !Save().ok()) return {};
  Data before = s_;
  std::vector<v1::MemberRef> expired;
  bool shards_changed = false;
  for (const MemberKey& key : silent) {
    v1::MemberRef ref;
    ref.set_role(key.first);
    ref.set_id(key.second);
    for (const v1::ServerInfo& s : s_.map.servers()) {
      if (key.first == v1::MemberRef::ROLE_SERVER && s.server_id() == key.second) {
        ref.set_incarnation(s.incarnation());
      }
    }
    for (const v1::WorkerInfo& w : s_.map.workers()) {
      if (key.first == v1::MemberRef::ROLE_WORKER && w.worker_id() == key.second) {
        ref.set_incarnation(w.incarnation());
      }
    }
    shards_changed |= MarkDead(key, "declared dead: silent for longer than the failure timeout");
    expired.push_back(ref);
  }
  if (!expired.empty()) {
    // After every death of the sweep, so no learner lands on a server about to be declared dead.
    shards_changed |= Reconcile();
    // Refused, everything is as before and the next sweep tries again.
    if (!Commit(std::move(before), shards_changed, /*membership_changed=*/true).ok()) return {};
  }
  return expired;
}

absl::StatusOr<ClusterState::Suspect> ClusterState::SuspectUnreachable(
    const v1::MemberRef& reporter, uint32_t server_id) const {
  absl::MutexLock lock(&mu_);
  if (absl::Status alive = CheckAlive(reporter); !alive.ok()) return alive;
  const auto liveness = s_.liveness.find({v1::MemberRef::ROLE_SERVER, server_id});
  for (const v1::ServerInfo& server : s_.map.servers()) {
    if (server.server_id() != server_id || server.state() != v1::MEMBER_STATE_ALIVE ||
        liveness == s_.liveness.end()) {
      continue;
    }
    Suspect suspect;
    suspect.server.set_role(v1::MemberRef::ROLE_SERVER);
    suspect.server.set_id(server_id);
    suspect.server.set_incarnation(server.incarnation());
    suspect.address = server.address();
    suspect.lease_lapsed = liveness->second.last_heartbeat + ServerLease(options_);
    return suspect;
  }
  return absl::FailedPreconditionError(absl::StrCat("server ", server_id, " is not a live server"));
}

bool ClusterState::DeclareDead(const v1::MemberRef& server, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (!CheckAlive(server).ok()) return false;  // Already out, or replaced.
  Data before = s_;
  bool shards_changed = MarkDead({v1::MemberRef::ROLE_SERVER, server.id()}, reason.c_str());
  shards_changed |= Reconcile();
  return Commit(std::move(before), shards_changed, /*membership_changed=*/true).ok();
}

bool ClusterState::MarkDead(const MemberKey& key, const char* reason) {
  s_.liveness.erase(key);
  const auto [role, id] = key;
  CoordinatorEvents().deaths.With({role == v1::MemberRef::ROLE_WORKER ? "worker" : "server"}).Add();
  if (role == v1::MemberRef::ROLE_WORKER) {
    for (v1::WorkerInfo& w : *s_.map.mutable_workers()) {
      if (w.worker_id() == id) w.set_state(v1::MEMBER_STATE_DEAD);
    }
    spdlog::warn("worker {} is out: {}", id, reason);
    return false;
  }
  for (v1::ServerInfo& s : *s_.map.mutable_servers()) {
    if (s.server_id() == id) s.set_state(v1::MEMBER_STATE_DEAD);
  }
  std::vector<uint32_t> led;
  for (size_t shard = 0; shard < s_.chains.size(); ++shard) {
    if (!s_.chains[shard].empty() && s_.chains[shard][0] == id) led.push_back(shard);
  }
  const int removed = RemoveServer(id, s_.chains);
  const int removed_learners = RemoveServer(id, s_.learners);
  spdlog::warn(
      "server {} is out: {}; removed from {} replica chains and {} learner lists, {} primaries "
      "moved",
      id, reason, removed, removed_learners, led.size());
  for (uint32_t shard : led) {
    if (s_.chains[shard].empty()) {
      // Learners never become replicas on their own: what they copied is incomplete, and with no
      // primary left they can never catch up.
      s_.learners[shard].clear();
      spdlog::error(
          "shard {} lost every replica and is unavailable; it cannot be re-replicated (nothing "
          "to copy from)",
          shard);
    } else {
      spdlog::info("shard {}: server {} promoted to primary", shard, s_.chains[shard][0]);
      CoordinatorEvents().failovers.Add();
    }
  }
  return removed > 0 || removed_learners > 0;
}

bool ClusterState::MaybePlaceShards() {
  if (!s_.chains.empty()) return false;
  const std::vector<uint32_t> alive = TargetServers();
  if (alive.size() < options_.min_servers) return false;
  absl::StatusOr<ReplicaChains> chains =
      PlaceShards(options_.num_shards, options_.replication_factor, alive);
  // Options were validated (min_servers >= R) and ids are unique, so placement cannot fail.
  if (!chains.ok()) {
    spdlog::critical("placement failed: {}", chains.status().ToString());
    return false;
  }
  s_.chains = *std::move(chains);
  s_.learners.assign(s_.chains.size(), {});
  spdlog::info("placed {} shards x {} replicas on servers [{}]", options_.num_shards,
               options_.replication_factor, absl::StrJoin(alive, ", "));
  return true;
}

bool ClusterState::ReReplicate(const LearnerLists* avoid) {
  const std::vector<LearnerChoice> choices =
      AddLearners(options_.replication_factor, TargetServers(), s_.chains, s_.learners, avoid);
  s_.learner_since.resize(s_.chains.size());
  for (const LearnerChoice& choice : choices) {
    // Published with the next epoch (every caller publishes a placement change after this).
    s_.learner_since[choice.shard][choice.server] = s_.map.epoch() + 1;
    spdlog::info("shard {}: server {} added as learner (re-replication, {} of {} replicas left)",
                 choice.shard, choice.server, choice.replicas_left, options_.replication_factor);
    CoordinatorEvents().rereplications.Add();
  }
  return !choices.empty();
}

bool ClusterState::StartMoves() {
  bool changed = false;
  const auto has = [](const std::vector<uint32_t>& list, uint32_t server) {
    return std::find(list.begin(), list.end(), server) != list.end();
  };
  for (auto it = s_.moves.begin(); it != s_.moves.end();) {
    const auto& [shard, move] = *it;
    const bool valid =
        shard < s_.chains.size() &&
        (move.handing_over ? has(s_.chains[shard], move.to) && s_.chains[shard][0] == move.from
                           : has(s_.learners[shard], move.to) && has(s_.chains[shard], move.from));
    if (valid) {
      ++it;
      continue;
    }
    changed |= s_.sealed.erase(shard) > 0;
    spdlog::info(
        "shard {}: move from server {} to server {} dropped (a failure changed the shard; "
        "re-replication takes over)",
        shard, move.from, move.to);
    it = s_.moves.erase(it);
  }
  for (auto it = s_.sealed.begin(); it != s_.sealed.end();) {
    const auto move = s_.moves.find(*it);
    const bool keep = move != s_.moves.end() && move->second.handing_over;
    changed |= !keep;
    it = keep ? std::next(it) : s_.sealed.erase(it);
  }
  const bool paced = options_.move_pause > absl::ZeroDuration() &&
                     (move_done_unpaced_ || last_tick_ < moves_paused_until_);
  if (s_.chains.empty() || paced) return changed;
  MovePlanInput input;
  input.replication_factor = options_.replication_factor;
  input.targets = TargetServers();
  for (const v1::ServerInfo& server : s_.map.servers()) {
    if (server.state() == v1::MEMBER_STATE_ALIVE && server.draining()) {
      input.draining.insert(server.server_id());
    }
  }
  input.max_moves = options_.max_concurrent_moves;
  input.balance = options_.rebalance;
  const std::vector<PlannedMove> planned = PlanMoves(input, s_.chains, s_.learners, s_.moves);
  s_.learner_since.resize(s_.chains.size());
  for (const PlannedMove& move : planned) {
    s_.learners[move.shard].push_back(move.to);
    // Published with the next epoch (every caller publishes a placement change after this).
    s_.learner_since[move.shard][move.to] = s_.map.epoch() + 1;
    s_.moves[move.shard] = move;
    const bool leads = s_.chains[move.shard][0] == move.from;
    spdlog::info(
        "shard {}: moving its {} on server {} to server {} ({}; {} move(s) in flight): "
        "server {} copies it as a learner first",
        move.shard, leads ? "primary" : "backup", move.from, move.to, move.reason, s_.moves.size(),
        move.to);
  }
  return changed || !planned.empty();
}

v1::ServerInfo* ClusterState::LiveServer(uint32_t server_id) {
  for (v1::ServerInfo& server : *s_.map.mutable_servers()) {
    if (server.server_id() == server_id && server.state() == v1::MEMBER_STATE_ALIVE) return &server;
  }
  return nullptr;
}

ClusterState::DrainProgress ClusterState::ProgressOf(uint32_t server_id) const {
  DrainProgress progress;
  progress.epoch = s_.map.epoch();
  for (const std::vector<uint32_t>& chain : s_.chains) {
    for (size_t i = 0; i < chain.size(); ++i) {
      if (chain[i] != server_id) continue;
      ++progress.replicas_held;
      if (i == 0) ++progress.primaries_held;
    }
  }
  return progress;
}

absl::Status ClusterState::CompleteHandoff(uint32_t shard, const char* why) {
  const PlannedMove move = s_.moves.at(shard);
  Data before = s_;
  s_.moves.erase(shard);
  s_.sealed.erase(shard);
  s_.chains[shard] = ChainAfterMove(s_.chains[shard], move);
  NoteMoveDone();
  StartMoves();
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/true, /*membership_changed=*/false);
      !committed.ok()) {
    return committed;
  }
  seal_seen_.erase(shard);
  spdlog::info(
      "shard {}: moved from server {} to server {} ({}; {}): server {} leads, chain [{}]; "
      "epoch {}",
      shard, move.from, move.to, move.reason, why, s_.chains[shard][0],
      absl::StrJoin(s_.chains[shard], ", "), s_.map.epoch());
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ClusterState::ReportHandoffReady(
    const v1::ReportHandoffReadyRequest& request) {
  absl::MutexLock lock(&mu_);
  if (absl::Status alive = CheckAliveServer(request.primary()); !alive.ok()) return alive;
  const uint32_t shard = request.shard_id();
  if (shard >= options_.num_shards) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", shard, " does not exist: there are ",
                                                   options_.num_shards, " shards"));
  }
  const auto it = s_.moves.find(shard);
  if (it == s_.moves.end() || !it->second.handing_over ||
      it->second.from != request.primary().id()) {
    return s_.map.epoch();  // Done already, or cancelled by a failure.
  }
  if (absl::Status done = CompleteHandoff(shard, "its primary had every replica in step");
      !done.ok()) {
    return done;
  }
  return s_.map.epoch();
}

void ClusterState::TickMoves(absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_tick_ = now;
  if (move_done_unpaced_) {
    moves_paused_until_ = now + options_.move_pause;
    move_done_unpaced_ = false;
  }
  for (auto it = seal_seen_.begin(); it != seal_seen_.end();) {
    it = s_.sealed.count(it->first) > 0 ? std::next(it) : seal_seen_.erase(it);
  }
  std::vector<uint32_t> stalled;
  for (uint32_t shard : s_.sealed) {
    const absl::Time seen = seal_seen_.emplace(shard, now).first->second;
    if (now - seen >= options_.handoff_timeout) stalled.push_back(shard);
  }
  for (uint32_t shard : stalled) {
    // Completed with an earlier one (sealed shards always have their move: StartMoves, Resume).
    if (s_.sealed.count(shard) == 0 || s_.moves.count(shard) == 0) continue;
    spdlog::warn(
        "shard {}: primary {} did not report the handoff ready within {}; switching "
        "anyway (a replica that diverged will copy the shard afresh)",
        shard, s_.moves.at(shard).from, absl::FormatDuration(options_.handoff_timeout));
    if (!CompleteHandoff(shard, "handoff timed out").ok()) return;  // The next sweep retries.
  }
  if (options_.move_pause > absl::ZeroDuration() && now >= moves_paused_until_ &&
      !s_.chains.empty()) {
    Data before = s_;
    if (StartMoves()) {
      // Refused, everything is as before and the next tick tries again.
      Commit(std::move(before), /*shards_changed=*/true, /*membership_changed=*/false)
          .IgnoreError();
    }
  }
}

absl::StatusOr<ClusterState::DrainProgress> ClusterState::Drain(uint32_t server_id) {
  absl::MutexLock lock(&mu_);
  v1::ServerInfo* server = LiveServer(server_id);
  if (server == nullptr) {
    return absl::NotFoundError(absl::StrCat("no live server with id ", server_id));
  }
  if (server->draining()) return ProgressOf(server_id);
  const size_t left = TargetServers().size() - 1;
  if (left < options_.replication_factor) {
    return absl::FailedPreconditionError(
        absl::StrCat("draining server ", server_id, " would leave ", left,
                     " server(s) to hold the replicas, fewer than the replication factor ",
                     options_.replication_factor, ": add a server first"));
  }
  Data before = s_;
  server->set_draining(true);
  // What it was copying would only have to move again.
  const int dropped = RemoveServer(server_id, s_.learners);
  const bool learners_added = Reconcile();
  const DrainProgress progress = ProgressOf(server_id);
  if (absl::Status committed = Commit(std::move(before), dropped > 0 || learners_added,
                                      /*membership_changed=*/true);
      !committed.ok()) {
    return committed;
  }
  spdlog::info(
      "server {} is being drained: {} replica(s), {} of them primaries, move to other "
      "servers ({} learner copies it was making dropped); epoch {}",
      server_id, progress.replicas_held, progress.primaries_held, dropped, s_.map.epoch());
  return ProgressOf(server_id);
}

absl::StatusOr<ClusterState::DrainProgress> ClusterState::Undrain(uint32_t server_id) {
  absl::MutexLock lock(&mu_);
  v1::ServerInfo* server = LiveServer(server_id);
  if (server == nullptr) {
    return absl::NotFoundError(absl::StrCat("no live server with id ", server_id));
  }
  if (!server->draining()) return ProgressOf(server_id);
  Data before = s_;
  server->set_draining(false);
  const bool learners_added = Reconcile();
  if (absl::Status committed =
          Commit(std::move(before), learners_added, /*membership_changed=*/true);
      !committed.ok()) {
    return committed;
  }
  spdlog::info("server {} is back in service (undrained); epoch {}", server_id, s_.map.epoch());
  return ProgressOf(server_id);
}

absl::Status ClusterState::Commit(Data before, bool shards_changed, bool membership_changed) {
  if (shards_changed) {
    s_.map.set_epoch(s_.map.epoch() + 1);
    s_.map.clear_shards();
    s_.learner_since.resize(s_.chains.size());
    for (size_t shard = 0; shard < s_.chains.size(); ++shard) {
      v1::ShardAssignment* assignment = s_.map.add_shards();
      assignment->set_shard_id(shard);
      assignment->mutable_replicas()->Add(s_.chains[shard].begin(), s_.chains[shard].end());
      assignment->mutable_learners()->Add(s_.learners[shard].begin(), s_.learners[shard].end());
      assignment->set_sealed(s_.sealed.count(shard) > 0);
      std::map<uint32_t, uint64_t> since;
      for (uint32_t learner : s_.learners[shard]) {
        const auto it = s_.learner_since[shard].find(learner);
        since[learner] = it == s_.learner_since[shard].end() ? s_.map.epoch() : it->second;
        assignment->add_learner_epochs(since[learner]);
      }
      s_.learner_since[shard].swap(since);  // Forget servers that are learners no more.
    }
  }
  if (membership_changed) s_.map.set_membership_version(s_.map.membership_version() + 1);
  absl::Status saved = Save();
  if (!saved.ok()) {
    s_ = std::move(before);
    return saved;
  }
  progress_unsaved_ = false;
  return absl::OkStatus();
}

absl::Status ClusterState::Save() {
  if (!sink_) return absl::OkStatus();
  ++generation_;
  absl::Status saved = sink_(ToProto());
  if (!saved.ok()) {
    const std::string error = saved.ToString();
    if (error != sink_error_) {
      spdlog::error(
          "cannot save the coordinator state, so the change is not made (members retry; "
          "no failure can be handled until it can be saved): {}",
          error);
      sink_error_ = error;
    }
    return absl::UnavailableError(
        absl::StrCat("the coordinator cannot save its state: ", saved.message()));
  }
  if (!sink_error_.empty()) {
    spdlog::info("the coordinator state can be saved again");
    sink_error_.clear();
  }
  return absl::OkStatus();
}

v1::CoordinatorState ClusterState::ToProto() const {
  v1::CoordinatorState state;
  state.set_generation(generation_);
  *state.mutable_map() = s_.map;
  state.set_next_server_id(s_.next_server_id);
  state.set_next_worker_id(s_.next_worker_id);
  state.set_next_incarnation(s_.next_incarnation);
  for (const auto& [rank, steps] : s_.rank_progress) {
    v1::RankProgress* progress = state.add_progress();
    progress->set_rank(rank);
    progress->set_steps_done(steps);
  }
  state.set_job_running(s_.job_running);
  state.mutable_job_ranks()->Add(s_.job_ranks.begin(), s_.job_ranks.end());
  state.mutable_finished_ranks()->Add(s_.finished_ranks.begin(), s_.finished_ranks.end());
  state.set_restored_from_checkpoint(s_.restored_from);
  for (const auto& [shard, move] : s_.moves) *state.add_moves() = MoveToProto(move);
  return state;
}

void ClusterState::SetStateSink(StateSink sink) {
  absl::MutexLock lock(&mu_);
  sink_ = std::move(sink);
}

absl::Status ClusterState::Resume(const v1::CoordinatorState& saved, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (s_.map.servers_size() > 0 || s_.map.workers_size() > 0 || s_.map.tables_size() > 0) {
    return absl::FailedPreconditionError(
        "a saved state is taken up before any member registers or table is created");
  }
  const v1::ClusterMap& map = saved.map();
  if (map.num_shards() != options_.num_shards ||
      map.replication_factor() != options_.replication_factor) {
    return absl::InvalidArgumentError(
        absl::StrCat("the saved cluster has num_shards=", map.num_shards(),
                     " and replication_factor=", map.replication_factor(),
                     "; this coordinator was started with --num_shards=", options_.num_shards,
                     " --replication_factor=", options_.replication_factor,
                     " (both are fixed for a cluster's life: start it with the saved values)"));
  }
  if (map.shards_size() != 0 && map.shards_size() != static_cast<int>(map.num_shards())) {
    return absl::InvalidArgumentError(absl::StrCat("the saved map places ", map.shards_size(),
                                                   " shards, not ", map.num_shards()));
  }
  Data data;
  data.map = map;
  for (const v1::ShardAssignment& shard : map.shards()) {
    if (shard.learner_epochs_size() != shard.learners_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the saved map's shard ", shard.shard_id(), " has ", shard.learners_size(),
                       " learners but ", shard.learner_epochs_size(), " learner epochs"));
    }
    data.chains.emplace_back(shard.replicas().begin(), shard.replicas().end());
    data.learners.emplace_back(shard.learners().begin(), shard.learners().end());
    std::map<uint32_t, uint64_t>& since = data.learner_since.emplace_back();
    for (int i = 0; i < shard.learners_size(); ++i)
      since[shard.learners(i)] = shard.learner_epochs(i);
  }
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() == v1::MEMBER_STATE_ALIVE) {
      data.liveness[{v1::MemberRef::ROLE_SERVER, server.server_id()}] = {now, 0};
    }
  }
  for (const v1::WorkerInfo& worker : map.workers()) {
    if (worker.state() == v1::MEMBER_STATE_ALIVE) {
      data.liveness[{v1::MemberRef::ROLE_WORKER, worker.worker_id()}] = {now, 0};
    }
  }
  data.next_server_id = saved.next_server_id();
  data.next_worker_id = saved.next_worker_id();
  // Incarnations stay unique also if the saved counter lagged a clock-seeded one.
  data.next_incarnation = std::max(saved.next_incarnation(), s_.next_incarnation);
  for (const v1::RankProgress& progress : saved.progress()) {
    data.rank_progress[progress.rank()] = progress.steps_done();
  }
  data.job_running = saved.job_running();
  data.job_ranks.insert(saved.job_ranks().begin(), saved.job_ranks().end());
  data.finished_ranks.insert(saved.finished_ranks().begin(), saved.finished_ranks().end());
  data.restored_from = saved.restored_from_checkpoint();
  for (const v1::ShardMove& move : saved.moves()) {
    if (move.shard_id() >= data.chains.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the saved state moves shard ", move.shard_id(), ", which is not placed"));
    }
    data.moves[move.shard_id()] =
        PlannedMove{move.shard_id(), move.from_server(), move.to_server(),
                    move.lead(),     move.reason(),      move.handing_over()};
  }
  for (v1::ShardAssignment& shard : *data.map.mutable_shards()) {
    // A seal is kept only with its handover move (a saved state is not trusted to pair them):
    // a seal without one would stop pushes to the shard for good.
    const auto move = data.moves.find(shard.shard_id());
    if (shard.sealed() && move != data.moves.end() && move->second.handing_over) {
      data.sealed.insert(shard.shard_id());
    } else {
      shard.set_sealed(false);
    }
  }
  s_ = std::move(data);
  generation_ = saved.generation();
  return absl::OkStatus();
}

v1::CoordinatorState ClusterState::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return ToProto();
}

absl::Status ClusterState::SaveNow() {
  absl::MutexLock lock(&mu_);
  absl::Status saved = Save();
  if (saved.ok()) progress_unsaved_ = false;
  return saved;
}

void ClusterState::GrantGrace(absl::Time now) {
  absl::MutexLock lock(&mu_);
  // As if each had heartbeated one timeout from now (Status() shows such an age as 0).
  const absl::Time as_if = now + options_.failure_timeout;
  for (auto& [key, liveness] : s_.liveness) {
    liveness.last_heartbeat = std::max(liveness.last_heartbeat, as_if);
  }
}

void ClusterState::RestartSilenceClocks(absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (auto& [key, liveness] : s_.liveness) {
    liveness.last_heartbeat = std::max(liveness.last_heartbeat, now);
  }
}

void ClusterState::SaveProgressIfDue(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (!progress_unsaved_ || now - progress_saved_ < absl::Seconds(1)) return;
  progress_saved_ = now;
  if (Save().ok()) progress_unsaved_ = false;
}

uint64_t ClusterState::restored_from() const {
  absl::MutexLock lock(&mu_);
  return s_.restored_from;
}

std::vector<uint32_t> ClusterState::AliveServers() const {
  std::vector<uint32_t> alive;
  for (const v1::ServerInfo& s : s_.map.servers()) {
    if (s.state() == v1::MEMBER_STATE_ALIVE) alive.push_back(s.server_id());
  }
  return alive;
}

std::vector<uint32_t> ClusterState::TargetServers() const {
  std::vector<uint32_t> targets;
  for (const v1::ServerInfo& s : s_.map.servers()) {
    if (s.state() == v1::MEMBER_STATE_ALIVE && !s.draining()) targets.push_back(s.server_id());
  }
  return targets;
}

absl::StatusOr<std::pair<v1::TableInfo, bool>> ClusterState::CreateTable(
    const v1::TableSpec& spec) {
  if (absl::Status valid = ValidateTableSpec(spec); !valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  for (const v1::TableInfo& table : s_.map.tables()) {
    if (table.spec().name() != spec.name()) continue;
    if (google::protobuf::util::MessageDifferencer::Equals(table.spec(), spec)) {
      return std::make_pair(table, false);
    }
    return absl::AlreadyExistsError(absl::StrCat(
        "table '", spec.name(), "' already exists with a different spec: ",
        table.spec().ShortDebugString(), " (requested: ", spec.ShortDebugString(), ")"));
  }
  Data before = s_;
  v1::TableInfo* table = s_.map.add_tables();
  table->set_table_id(s_.map.tables_size());
  *table->mutable_spec() = spec;
  s_.map.set_catalog_version(s_.map.catalog_version() + 1);
  const v1::TableInfo created = *table;
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/false, /*membership_changed=*/false);
      !committed.ok()) {
    return committed;
  }
  spdlog::info("table {} '{}' created: {}", created.table_id(), spec.name(),
               spec.ShortDebugString());
  return std::make_pair(created, true);
}

absl::StatusOr<v1::TableInfo> ClusterState::DescribeTable(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const v1::TableInfo& table : s_.map.tables()) {
    if (table.spec().name() == name) return table;
  }
  return absl::NotFoundError(absl::StrCat("no table named '", name, "'"));
}

absl::StatusOr<uint64_t> ClusterState::ReportReplicaFailure(
    const v1::ReportReplicaFailureRequest& request) {
  absl::MutexLock lock(&mu_);
  const uint32_t reporter = request.reporter().id();
  const uint32_t failed = request.failed_server_id();
  if (absl::Status alive = CheckAliveServer(request.reporter()); !alive.ok()) return alive;
  if (request.shard_ids().empty()) {
    return absl::InvalidArgumentError("a replica failure report must name at least one shard");
  }
  for (uint32_t shard : request.shard_ids()) {
    if (shard >= options_.num_shards) {
      return absl::InvalidArgumentError(absl::StrCat("shard ", shard, " does not exist: there are ",
                                                     options_.num_shards, " shards"));
    }
  }
  if (failed == reporter) {
    return absl::FailedPreconditionError(
        absl::StrCat("server ", reporter,
                     " reported itself as the failed replica; a primary cannot remove "
                     "itself (it should leave or stop heartbeating)"));
  }
  for (uint32_t shard : request.shard_ids()) {
    if (shard >= s_.chains.size() || s_.chains[shard].empty() || s_.chains[shard][0] != reporter) {
      return absl::FailedPreconditionError(absl::StrCat(
          "server ", reporter, " is not the primary of shard ", shard, " at epoch ", s_.map.epoch(),
          " (it reported with epoch ", request.epoch(), "); adopt the current map"));
    }
  }
  const std::set<uint32_t> shards(request.shard_ids().begin(), request.shard_ids().end());
  Data before = s_;
  std::vector<uint32_t> changed;
  for (uint32_t shard : shards) {
    std::vector<uint32_t>& chain = s_.chains[shard];
    std::vector<uint32_t>& learners = s_.learners[shard];
    const size_t before = chain.size() + learners.size();
    chain.erase(std::remove(chain.begin(), chain.end(), failed), chain.end());
    learners.erase(std::remove(learners.begin(), learners.end(), failed), learners.end());
    if (chain.size() + learners.size() != before) changed.push_back(shard);
  }
  if (changed.empty()) return s_.map.epoch();  // A retry: already removed.
  spdlog::warn(
      "server {} reported replica failure of server {} on shard(s) [{}]: {}; removed it "
      "from them",
      reporter, failed, absl::StrJoin(changed, ", "), request.reason());
  // The failed server is picked again only if no other server can take the shard: it may be dead
  // and not yet declared so (a killed backup keeps its heartbeat age for up to the timeout).
  LearnerLists avoid(s_.chains.size());
  for (uint32_t shard : changed) avoid[shard].push_back(failed);
  Reconcile(&avoid);
  // Even when re-replication picks the failed server again, it is a new learner that must copy
  // afresh, so the epoch moves.
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/true, /*membership_changed=*/false);
      !committed.ok()) {
    return committed;
  }
  return s_.map.epoch();
}

absl::StatusOr<uint64_t> ClusterState::ReportLearnerCaughtUp(
    const v1::ReportLearnerCaughtUpRequest& request) {
  absl::MutexLock lock(&mu_);
  const uint32_t learner = request.learner().id();
  const uint32_t shard = request.shard_id();
  if (absl::Status alive = CheckAliveServer(request.learner()); !alive.ok()) return alive;
  if (shard >= options_.num_shards) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", shard, " does not exist: there are ",
                                                   options_.num_shards, " shards"));
  }
  const auto is_learner = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shard < s_.learners.size() &&
           std::find(s_.learners[shard].begin(), s_.learners[shard].end(), learner) !=
               s_.learners[shard].end();
  };
  if (!is_learner()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "server ", learner, " is not a learner of shard ", shard, " at epoch ", s_.map.epoch()));
  }
  if (request.catalog_version() < s_.map.catalog_version()) {
    return absl::AbortedError(absl::StrCat(
        "server ", learner, " caught up on shard ", shard, " at catalog version ",
        request.catalog_version(), " but the catalog is at version ", s_.map.catalog_version(),
        ": copy the newer tables' shard from the primary, then report again"));
  }
  Data before = s_;
  std::vector<uint32_t>& learners = s_.learners[shard];
  learners.erase(std::find(learners.begin(), learners.end(), learner));
  std::optional<PlannedMove> move;
  bool sealed = false;
  if (const auto it = s_.moves.find(shard); it != s_.moves.end() && it->second.to == learner) {
    move = it->second;
    if (!s_.chains[shard].empty() && s_.chains[shard][0] == move->from) {
      // The primary moves: the learner joins as the last backup and the primary hands the
      // shard over once every replica has all it sent (ReportHandoffReady).
      s_.chains[shard].push_back(learner);
      s_.sealed.insert(shard);
      it->second.handing_over = true;
      sealed = true;
    } else {
      s_.moves.erase(it);
      s_.chains[shard] = ChainAfterMove(s_.chains[shard], *move);
      NoteMoveDone();
    }
  } else {
    s_.chains[shard].push_back(learner);
  }
  StartMoves();
  if (absl::Status committed =
          Commit(std::move(before), /*shards_changed=*/true, /*membership_changed=*/false);
      !committed.ok()) {
    return committed;
  }
  if (sealed) {
    spdlog::info(
        "shard {}: server {} caught up and joined the chain [{}]; primary {} takes no "
        "new push on it and hands it over once every replica has all it sent; epoch {}",
        shard, learner, absl::StrJoin(s_.chains[shard], ", "), move->from, s_.map.epoch());
  } else if (move.has_value()) {
    spdlog::info("shard {}: moved from server {} to server {} ({}): chain [{}]; epoch {}", shard,
                 move->from, move->to, move->reason, absl::StrJoin(s_.chains[shard], ", "),
                 s_.map.epoch());
  } else {
    spdlog::info(
        "shard {}: learner {} caught up and joined the chain as its last backup: [{}]; "
        "epoch {}",
        shard, learner, absl::StrJoin(s_.chains[shard], ", "), s_.map.epoch());
  }
  return s_.map.epoch();
}

v1::ClusterMap ClusterState::Map() const {
  absl::MutexLock lock(&mu_);
  return s_.map;
}

std::optional<v1::ClusterMap> ClusterState::WaitForNewerMap(uint64_t known_epoch,
                                                            uint64_t known_catalog_version,
                                                            uint64_t known_membership_version,
                                                            absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  // The three counters never go backwards, so any one ahead means a change the caller missed.
  const auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shut_down_ || s_.map.epoch() > known_epoch ||
           s_.map.catalog_version() > known_catalog_version ||
           s_.map.membership_version() > known_membership_version;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (shut_down_ || !ready()) return std::nullopt;
  return s_.map;
}

v1::ClusterStatus ClusterState::Status(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  v1::ClusterStatus status;
  *status.mutable_map() = s_.map;
  status.set_min_servers(options_.min_servers);
  status.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(options_.heartbeat_interval));
  status.set_failure_timeout_ms(absl::ToInt64Milliseconds(options_.failure_timeout));
  for (const auto& [shard, move] : s_.moves) *status.add_moves() = MoveToProto(move);
  status.set_max_concurrent_moves(options_.max_concurrent_moves);
  const auto add = [&](v1::MemberRef::Role role, uint32_t id, uint64_t incarnation,
                       v1::MemberState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::MemberHealth* health = status.add_members();
    health->mutable_member()->set_role(role);
    health->mutable_member()->set_id(id);
    health->mutable_member()->set_incarnation(incarnation);
    health->set_state(state);
    const auto it = s_.liveness.find({role, id});
    if (it != s_.liveness.end()) {
      health->set_last_heartbeat_age_ms(
          std::max<int64_t>(0, absl::ToInt64Milliseconds(now - it->second.last_heartbeat)));
      health->set_known_epoch(it->second.known_epoch);
    }
  };
  for (const v1::ServerInfo& s : s_.map.servers()) {
    add(v1::MemberRef::ROLE_SERVER, s.server_id(), s.incarnation(), s.state());
  }
  for (const v1::WorkerInfo& w : s_.map.workers()) {
    add(v1::MemberRef::ROLE_WORKER, w.worker_id(), w.incarnation(), w.state());
  }
  return status;
}

void ClusterState::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

bool ClusterState::IsShutDown() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

}  // namespace ps
