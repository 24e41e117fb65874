#include "server/coordinator/checkpoint_manager.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "proto/parameter_server.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr int kAttempts = 4;
// How often --checkpoint_every_steps looks at the ranks' progress.
constexpr absl::Duration kStepsPoll = absl::Milliseconds(100);
// How many clocks ahead of the fastest shard a BSP cut is set at first; each aborted attempt
// (a shard passed the cut before the request reached it: fast steps) sets it 4 times further.
constexpr uint64_t kFirstCutLead = 2;

class GrpcServerCheckpointClient final : public ServerCheckpointClient {
 public:
  explicit GrpcServerCheckpointClient(std::shared_ptr<const TransportSecurity> security)
      : security_(std::move(security)) {}

  absl::StatusOr<v1::DescribeShardsResponse> DescribeShards(const std::string& address,
                                                            absl::Time deadline) override {
    auto stub = v1::ParameterServer::NewStub(OpenChannel(address, *security_));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    v1::DescribeShardsResponse response;
    const grpc::Status status = stub->DescribeShards(&context, {}, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  absl::StatusOr<v1::CheckpointResponse> Checkpoint(const std::string& address,
                                                    const v1::CheckpointRequest& request,
                                                    absl::Time deadline) override {
    auto stub = v1::ParameterServer::NewStub(OpenChannel(address, *security_));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    v1::CheckpointResponse response;
    const grpc::Status status = stub->Checkpoint(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

 private:
  const std::shared_ptr<const TransportSecurity> security_;
};

int64_t UnixMillis(absl::Time time) { return absl::ToUnixMillis(time); }

}  // namespace

std::unique_ptr<ServerCheckpointClient> NewGrpcServerCheckpointClient(
    std::shared_ptr<const TransportSecurity> security) {
  return std::make_unique<GrpcServerCheckpointClient>(std::move(security));
}

absl::Status ValidateCheckpointOptions(const CheckpointOptions& options) {
  if (options.keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--checkpoint_keep=", options.keep, ": keep at least 1 checkpoint"));
  }
  if (options.interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--checkpoint_interval_s must be >= 0 (0: on demand only)");
  }
  if (options.directory.empty() &&
      (options.interval > absl::ZeroDuration() || options.every_steps > 0)) {
    return absl::InvalidArgumentError(
        "--checkpoint_interval_s and --checkpoint_every_steps need --checkpoint_dir (where the "
        "checkpoints go)");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RestoreClusterState(ClusterState& state, const std::string& root,
                                             const std::string& which) {
  std::optional<uint64_t> newest;
  if (which != "latest") {
    absl::StatusOr<uint64_t> id = ParseCheckpointName(which);
    if (!id.ok()) return id.status();
    newest = *id;
  }
  std::vector<std::string> skipped;
  absl::StatusOr<RestorePoint> point = FindRestorePoint(root, newest, &skipped);
  for (const std::string& why : skipped) {
    spdlog::error("restore: skipping checkpoint {}", why);
  }
  if (!point.ok()) return point.status();
  if (absl::Status restored = state.RestoreFrom(point->manifest, point->directory);
      !restored.ok()) {
    return restored;
  }
  const v1::CheckpointManifest& manifest = point->manifest;
  uint64_t bytes = 0;
  for (const v1::ShardCheckpoint& file : manifest.shards()) bytes += file.size_bytes();
  spdlog::info("restore: cluster restored from {} ({} tables, {} shard files, {:.1f} MB, "
               "verified); servers load their shards from it as they are placed",
               point->directory, manifest.tables_size(), manifest.shards_size(), bytes / 1e6);
  for (const auto& [table, clock] : manifest.bsp_cut_clocks()) {
    spdlog::info("restore: BSP table {} resumes at clock {}", table, clock);
  }
  for (const v1::RankProgress& rank : manifest.progress()) {
    spdlog::info("restore: rank {} resumes after step {}", rank.rank(), rank.steps_done());
  }
  return point->checkpoint_id;
}

CheckpointManager::CheckpointManager(ClusterState& state, ServerCheckpointClient& client,
                                     CheckpointOptions options, uint64_t restored_from)
    : state_(state), client_(client), options_(std::move(options)), last_id_(restored_from) {
  status_.set_directory(options_.directory);
  status_.set_restored_from_id(restored_from);
  status_.set_last_complete_id(restored_from);
  // A restarted coordinator finds the checkpoints it wrote before: the newest with a manifest
  // (not verified here; a restore verifies).
  if (options_.directory.empty()) return;
  absl::StatusOr<std::vector<uint64_t>> existing = ListCheckpoints(options_.directory);
  if (!existing.ok()) return;
  for (uint64_t id : *existing) {  // Newest first.
    absl::StatusOr<v1::CheckpointManifest> manifest =
        ReadManifest(CheckpointDirectory(options_.directory, id));
    if (!manifest.ok()) continue;
    if (id > status_.last_complete_id()) {
      status_.set_last_complete_id(id);
      status_.set_last_complete_unix_ms(manifest->started_unix_ms());
    }
    break;
  }
}

CheckpointManager::~CheckpointManager() { Stop(); }

void CheckpointManager::Start() {
  if (options_.directory.empty() ||
      (options_.interval <= absl::ZeroDuration() && options_.every_steps == 0)) {
    return;
  }
  periodic_ = std::thread([this] { PeriodicLoop(); });
}

void CheckpointManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (periodic_.joinable()) periodic_.join();
}

void CheckpointManager::PeriodicLoop() {
  const bool by_time = options_.interval > absl::ZeroDuration();
  // Steps are polled; time waits the whole interval when it is the only trigger.
  const absl::Duration poll = options_.every_steps > 0
                                  ? (by_time ? std::min(options_.interval, kStepsPoll) : kStepsPoll)
                                  : options_.interval;
  absl::Time next_time = absl::Now() + options_.interval;
  uint64_t next_steps = options_.every_steps;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), poll);
      if (stopping_) return;
    }
    std::string reason;
    const std::optional<uint64_t> steps = state_.SlowestLiveRankSteps();
    if (by_time && absl::Now() >= next_time) {
      reason = "periodic";
    } else if (options_.every_steps > 0 && steps.has_value() && *steps >= next_steps) {
      reason = absl::StrCat("every ", options_.every_steps, " steps: the slowest rank is at ",
                            *steps);
    } else {
      continue;
    }
    absl::StatusOr<v1::CheckpointNowResponse> taken = TakeCheckpoint(reason);
    if (absl::IsFailedPrecondition(taken.status())) {
      spdlog::debug("periodic checkpoint skipped: {}", std::string(taken.status().message()));
    }
    next_time = absl::Now() + options_.interval;
    if (options_.every_steps > 0 && steps.has_value()) {
      next_steps = (*steps / options_.every_steps + 1) * options_.every_steps;
    }
  }
}

v1::CheckpointStatus CheckpointManager::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::StatusOr<v1::CheckpointNowResponse> CheckpointManager::TakeCheckpoint(
    const std::string& reason) {
  if (options_.directory.empty()) {
    return absl::FailedPreconditionError(
        "checkpoints are off: start ps_coordinator with --checkpoint_dir");
  }
  absl::MutexLock run(&run_mu_);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.timeout;
  absl::StatusOr<std::vector<uint64_t>> existing = ListCheckpoints(options_.directory);
  uint64_t id = last_id_ + 1;
  if (existing.ok() && !existing->empty()) id = std::max(id, existing->front() + 1);
  absl::StatusOr<v1::CheckpointNowResponse> result;
  uint64_t lead = kFirstCutLead;
  for (int attempt = 1; attempt <= kAttempts; ++attempt, lead *= 4) {
    result = Attempt(id, lead, deadline);
    if (!absl::IsAborted(result.status())) break;
    spdlog::info("checkpoint {}: attempt {} aborted ({}); retrying", id, attempt,
                 std::string(result.status().message()));
  }
  absl::MutexLock lock(&mu_);
  if (!result.ok()) {
    if (!absl::IsFailedPrecondition(result.status())) {
      spdlog::error("checkpoint {} ({}) failed: {}; the earlier checkpoints are untouched", id,
                    reason, result.status().ToString());
    }
    status_.set_last_error(std::string(result.status().message()));
    status_.set_last_error_unix_ms(UnixMillis(absl::Now()));
    return result;
  }
  last_id_ = id;
  status_.set_last_complete_id(id);
  status_.set_last_complete_unix_ms(UnixMillis(absl::Now()));
  status_.clear_last_error();
  status_.clear_last_error_unix_ms();
  spdlog::info("checkpoint {} ({}) complete: {} shard files, {:.1f} MB in {:.3f} s, {}", id,
               reason, result->shards_size(), result->total_bytes() / 1e6, result->seconds(),
               result->directory());
  absl::StatusOr<std::vector<std::string>> pruned =
      PruneCheckpoints(options_.directory, options_.keep, std::nullopt);
  if (!pruned.ok()) {
    spdlog::warn("pruning old checkpoints: {}", pruned.status().ToString());
  } else {
    for (const std::string& directory : *pruned) spdlog::info("removed old checkpoint {}", directory);
  }
  return result;
}

absl::StatusOr<v1::CheckpointNowResponse> CheckpointManager::Attempt(uint64_t id,
                                                                     uint64_t cut_lead,
                                                                     absl::Time deadline) {
  const absl::Time start = absl::Now();
  // Before the servers write: the progress recorded is then no later than the files (ASP, SSP).
  v1::CheckpointManifest before;
  state_.FillManifest(&before);
  const v1::ClusterMap map = state_.Map();
  if (map.shards_size() == 0) {
    return absl::FailedPreconditionError("no shards are placed yet (too few servers)");
  }
  if (map.tables_size() == 0) return absl::FailedPreconditionError("there are no tables");
  std::map<uint32_t, std::string> addresses;
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() == v1::MEMBER_STATE_ALIVE) addresses[server.server_id()] = server.address();
  }
  std::set<uint32_t> primaries;
  for (const v1::ShardAssignment& shard : map.shards()) {
    if (shard.replicas_size() == 0 || addresses.count(shard.replicas(0)) == 0) {
      return absl::UnavailableError(
          absl::StrCat("shard ", shard.shard_id(), " has no live primary"));
    }
    primaries.insert(shard.replicas(0));
  }
  std::set<uint32_t> bsp_tables;
  for (const v1::TableInfo& table : map.tables()) {
    if (table.spec().consistency().model() == v1::ConsistencySpec::MODEL_BSP) {
      bsp_tables.insert(table.table_id());
    }
  }

  v1::CheckpointRequest request;
  request.set_checkpoint_id(id);
  request.set_directory(CheckpointDirectory(options_.directory, id));
  if (!bsp_tables.empty()) {
    for (uint32_t server : primaries) {
      absl::StatusOr<v1::DescribeShardsResponse> shards =
          client_.DescribeShards(addresses[server], deadline);
      if (!shards.ok()) {
        return absl::Status(shards.status().code(),
                            absl::StrCat("server ", server, " (", addresses[server],
                                         "): ", shards.status().message()));
      }
      for (const v1::ShardReplicaInfo& replica : shards->replicas()) {
        if (replica.role() != v1::ShardReplicaInfo::ROLE_PRIMARY ||
            bsp_tables.count(replica.table_id()) == 0) {
          continue;
        }
        uint64_t& cut = (*request.mutable_bsp_cut_clocks())[replica.table_id()];
        cut = std::max(cut, replica.completed_clocks() + cut_lead);
      }
    }
  }

  // Every primary writes at once.
  std::map<uint32_t, absl::StatusOr<v1::CheckpointResponse>> answers;
  {
    std::vector<std::thread> calls;
    absl::Mutex answers_mu;
    for (uint32_t server : primaries) {
      calls.emplace_back([&, server] {
        absl::StatusOr<v1::CheckpointResponse> answer =
            client_.Checkpoint(addresses[server], request, deadline);
        absl::MutexLock lock(&answers_mu);
        answers.emplace(server, std::move(answer));
      });
    }
    for (std::thread& call : calls) call.join();
  }
  absl::Status first_error;
  for (const auto& [server, answer] : answers) {
    if (answer.ok()) continue;
    const absl::Status error(answer.status().code(),
                             absl::StrCat("server ", server, " (", addresses[server],
                                          "): ", answer.status().message()));
    // An abort (a cut passed, a primary changed) is retried; report it over other errors.
    if (first_error.ok() || absl::IsAborted(error)) first_error = error;
  }
  if (!first_error.ok()) return first_error;

  // Exactly one file per (table, shard) of the catalog taken at the start.
  std::set<uint32_t> tables;
  for (const v1::TableInfo& table : map.tables()) tables.insert(table.table_id());
  std::map<std::pair<uint32_t, uint32_t>, v1::ShardCheckpoint> files;
  for (const auto& [server, answer] : answers) {
    for (const v1::ShardCheckpoint& file : answer->shards()) {
      if (tables.count(file.table_id()) == 0) continue;  // Created after the start.
      if (!files.emplace(std::make_pair(file.table_id(), file.shard_id()), file).second) {
        return absl::AbortedError(absl::StrCat("table ", file.table_id(), " shard ",
                                               file.shard_id(),
                                               " was written by two servers (a new map)"));
      }
    }
  }
  for (uint32_t table : tables) {
    for (uint32_t shard = 0; shard < map.num_shards(); ++shard) {
      if (files.count({table, shard}) == 0) {
        return absl::AbortedError(absl::StrCat("table ", table, " shard ", shard,
                                               " was not written (its primary changed)"));
      }
    }
  }

  // Every shard of a BSP table stopped at the same clock: the cut, or the clock all of them
  // stood still at (the job's workers had left).
  std::map<uint32_t, uint64_t> cuts;
  for (const auto& [key, file] : files) {
    if (bsp_tables.count(key.first) == 0) continue;
    const auto [it, first] = cuts.emplace(key.first, file.completed_clocks());
    if (!first && it->second != file.completed_clocks()) {
      return absl::AbortedError(absl::StrCat("BSP table ", key.first, ": shards were cut at ",
                                             it->second, " and ", file.completed_clocks(),
                                             " clocks"));
    }
  }
  v1::CheckpointManifest manifest;
  state_.FillManifest(&manifest);  // Counters as of now: no smaller than in any file.
  manifest.set_checkpoint_id(id);
  manifest.set_started_unix_ms(UnixMillis(start));
  *manifest.mutable_tables() = map.tables();
  manifest.set_catalog_version(map.catalog_version());
  for (const auto& [table, clock] : cuts) (*manifest.mutable_bsp_cut_clocks())[table] = clock;
  *manifest.mutable_progress() = before.progress();
  if (!cuts.empty()) {
    // BSP ranks step in lockstep with the clock: at the cut, every rank has done `cut` steps.
    uint64_t cut = UINT64_MAX;
    for (const auto& [table, clock] : cuts) cut = std::min(cut, clock);
    std::set<uint32_t> ranks;
    for (const v1::RankProgress& rank : before.progress()) ranks.insert(rank.rank());
    for (const v1::WorkerInfo& worker : map.workers()) {
      if (worker.state() == v1::MEMBER_STATE_ALIVE) ranks.insert(worker.rank());
    }
    manifest.clear_progress();
    for (uint32_t rank : ranks) {
      v1::RankProgress* progress = manifest.add_progress();
      progress->set_rank(rank);
      progress->set_steps_done(cut);
    }
  }
  v1::CheckpointNowResponse response;
  uint64_t total = 0;
  for (auto& [key, file] : files) {
    total += file.size_bytes();
    *manifest.add_shards() = file;
    *response.add_shards() = std::move(file);
  }
  if (absl::Status written = WriteManifest(request.directory(), manifest); !written.ok()) {
    return written;
  }
  response.set_checkpoint_id(id);
  response.set_directory(request.directory());
  response.set_total_bytes(total);
  response.set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  return response;
}

}  // namespace ps
