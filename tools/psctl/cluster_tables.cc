#include "tools/psctl/cluster_tables.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/psctl/cluster_facts.h"

namespace ps::psctl {
namespace {

// Servers before workers, each in registration order (ids grow with registration).
std::vector<const v1::MemberHealth*> MembersInOrder(const v1::ClusterStatus& status) {
  std::vector<const v1::MemberHealth*> members;
  for (const v1::MemberHealth& member : status.members()) members.push_back(&member);
  std::stable_sort(members.begin(), members.end(),
                   [](const v1::MemberHealth* a, const v1::MemberHealth* b) {
                     return std::make_pair(a->member().role(), a->member().id()) <
                            std::make_pair(b->member().role(), b->member().id());
                   });
  return members;
}

std::string HealthText(const v1::ShardAssignment& shard, uint32_t replication_factor) {
  switch (HealthOf(shard, replication_factor)) {
    case ShardHealth::kHealthy:
      return "healthy";
    case ShardHealth::kUnderReplicated:
      return absl::StrCat("under-replicated (", shard.replicas_size(), " of ", replication_factor,
                          ")");
    case ShardHealth::kWithoutPrimary:
      break;
  }
  return "NO PRIMARY: every replica lost";
}

std::string OptimizerName(v1::OptimizerSpec::Kind kind) {
  switch (kind) {
    case v1::OptimizerSpec::KIND_SGD:
      return "sgd";
    case v1::OptimizerSpec::KIND_MOMENTUM:
      return "momentum";
    case v1::OptimizerSpec::KIND_ADAGRAD:
      return "adagrad";
    case v1::OptimizerSpec::KIND_ADAM:
      return "adam";
    case v1::OptimizerSpec::KIND_FTRL:
      return "ftrl";
    default:
      return "unspecified";
  }
}

std::string ConsistencyText(const v1::ConsistencySpec& consistency) {
  switch (consistency.model()) {
    case v1::ConsistencySpec::MODEL_BSP:
      return "bsp";
    case v1::ConsistencySpec::MODEL_ASP:
      return "asp";
    case v1::ConsistencySpec::MODEL_SSP:
      return absl::StrCat("ssp (staleness ", consistency.staleness(), ")");
    default:
      return "unspecified";
  }
}

// An accuracy the worker may not have (regression models; test accuracy before an epoch ends).
Cell AccuracyCell(bool present, double value) {
  return present ? Cell::Number(value, absl::StrFormat("%.4f", value)) : Cell::None();
}

// Shares of the worker's time computing, transferring and parked at barriers; the seconds go to
// scripts, which can divide for themselves.
Cell TimeSplitCell(const v1::WorkerProgress& progress) {
  const double total =
      progress.compute_seconds() + progress.transfer_seconds() + progress.barrier_wait_seconds();
  if (total <= 0) return Cell::None();
  const auto percent = [total](double seconds) { return std::lround(100 * seconds / total); };
  Cell cell(absl::StrCat(percent(progress.compute_seconds()), "/",
                         percent(progress.transfer_seconds()), "/",
                         percent(progress.barrier_wait_seconds()), " %"));
  google::protobuf::Struct& seconds = *cell.json.mutable_struct_value();
  (*seconds.mutable_fields())["compute"].set_number_value(progress.compute_seconds());
  (*seconds.mutable_fields())["transfer"].set_number_value(progress.transfer_seconds());
  (*seconds.mutable_fields())["wait"].set_number_value(progress.barrier_wait_seconds());
  return cell;
}

}  // namespace

Table MembersTable(const v1::ClusterStatus& status) {
  const v1::ClusterMap& map = status.map();
  Table table({{"ROLE", "role"},
               {"ID", "id"},
               {"ADDRESS", "address"},
               {"STATE", "state"},
               {"HEARTBEAT", "heartbeat_age_ms"},
               {"EPOCH", "known_epoch"},
               {"PRIMARIES", "primaries"},
               {"BACKUPS", "backups"}});
  for (const v1::MemberHealth* member : MembersInOrder(status)) {
    const uint32_t id = member->member().id();
    const bool is_server = member->member().role() == v1::MemberRef::ROLE_SERVER;
    std::string address;
    if (is_server) {
      const v1::ServerInfo* server = FindServerInfo(map, id);
      if (server != nullptr) address = server->address();
    } else {
      const v1::WorkerInfo* worker = FindWorkerInfo(map, id);
      if (worker != nullptr) address = worker->address();
    }
    const bool alive = member->state() == v1::MEMBER_STATE_ALIVE;
    std::vector<Cell> row = {
        RoleName(member->member().role()),
        Cell::Integer(id),
        address.empty() ? Cell::None() : Cell(address),
        MemberStateName(map, *member),
        alive ? Cell::Number(static_cast<double>(member->last_heartbeat_age_ms()),
                             absl::StrCat(member->last_heartbeat_age_ms(), " ms"))
              : Cell::None(),
        alive && member->known_epoch() != 0
            ? Cell::Integer(static_cast<int64_t>(member->known_epoch()))
            : Cell::None()};
    if (is_server) {
      int primaries = 0, backups = 0;
      for (const v1::ShardAssignment& shard : map.shards()) {
        for (int i = 0; i < shard.replicas_size(); ++i) {
          if (shard.replicas(i) == id) ++(i == 0 ? primaries : backups);
        }
      }
      row.push_back(Cell::Integer(primaries));
      row.push_back(Cell::Integer(backups));
    } else {
      row.push_back(Cell::None());
      row.push_back(Cell::None());
    }
    table.AddRow(std::move(row));
  }
  return table;
}

Table ShardsTable(const v1::ClusterStatus& status) {
  const v1::ClusterMap& map = status.map();
  Table table({{"SHARD", "shard"},
               {"PRIMARY", "primary"},
               {"BACKUPS", "backups"},
               {"LEARNERS", "learners"},
               {"HEALTH", "health"},
               {"MOVE", "move"}});
  for (const v1::ShardAssignment& shard : map.shards()) {
    std::vector<std::string> moves;
    for (const v1::ShardMove& move : status.moves()) {
      if (move.shard_id() != shard.shard_id()) continue;
      moves.push_back(absl::StrCat(move.from_server(), " -> ", move.to_server(), " (",
                                   move.reason(), move.lead() ? ", takes the lead" : "",
                                   move.handing_over() ? ", handing over" : "", ")"));
    }
    const std::vector<uint32_t> backups =
        shard.replicas().empty()
            ? std::vector<uint32_t>()
            : std::vector<uint32_t>(shard.replicas().begin() + 1, shard.replicas().end());
    table.AddRow({Cell::Integer(shard.shard_id()),
                  shard.replicas().empty() ? Cell::None() : Cell::Integer(shard.replicas(0)),
                  Cell::Ids(backups), Cell::Ids({shard.learners().begin(), shard.learners().end()}),
                  HealthText(shard, map.replication_factor()),
                  moves.empty() ? Cell::None() : Cell(absl::StrJoin(moves, "; "))});
  }
  return table;
}

Table CatalogTable(const v1::ClusterStatus& status) {
  Table table({{"NAME", "name"},
               {"ID", "table_id"},
               {"KIND", "kind"},
               {"SIZE", "size"},
               {"OPTIMIZER", "optimizer"},
               {"LEARNING RATE", "learning_rate"},
               {"CONSISTENCY", "consistency"}});
  for (const v1::TableInfo& info : status.map().tables()) {
    const v1::TableSpec& spec = info.spec();
    const bool dense = spec.kind() == v1::TABLE_KIND_DENSE;
    const double size = dense ? static_cast<double>(spec.dense_size()) : spec.sparse_dim();
    const std::string learning_rate = absl::StrFormat("%g", spec.optimizer().learning_rate());
    table.AddRow(
        {spec.name(), Cell::Integer(info.table_id()), dense ? "dense" : "sparse",
         Cell::Number(size, dense ? absl::StrCat(spec.dense_size(), " floats")
                                  : absl::StrCat(spec.sparse_dim(), " floats per key")),
         OptimizerName(spec.optimizer().kind()),
         // The float as written (0.001), not its binary value in double (0.0010000000474...).
         Cell::Number(std::stod(learning_rate), learning_rate),
         ConsistencyText(spec.consistency())});
  }
  return table;
}

Table WorkersTable(const v1::ClusterStatus& status) {
  const v1::ClusterMap& map = status.map();
  Table table({{"RANK", "rank"},
               {"ID", "id"},
               {"EPOCH", "epoch"},
               {"STEP", "step"},
               {"LOSS", "loss"},
               {"TRAIN ACC", "train_accuracy"},
               {"TEST ACC", "test_accuracy"},
               {"EXAMPLES/S", "examples_per_second"},
               {"COMPUTE/TRANSFER/WAIT", "time_seconds"},
               {"DEVICE", "device"},
               {"STRAGGLER", "straggler"}});
  std::vector<std::pair<uint32_t, const v1::MemberHealth*>> workers;
  for (const v1::MemberHealth& member : status.members()) {
    if (member.member().role() != v1::MemberRef::ROLE_WORKER ||
        member.state() != v1::MEMBER_STATE_ALIVE) {
      continue;
    }
    const v1::WorkerInfo* info = FindWorkerInfo(map, member.member().id());
    workers.emplace_back(info == nullptr ? 0 : info->rank(), &member);
  }
  std::stable_sort(workers.begin(), workers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, member] : workers) {
    std::vector<Cell> row = {Cell::Integer(rank), Cell::Integer(member->member().id())};
    if (!HasProgress(*member)) {
      while (row.size() < table.num_columns()) row.push_back(Cell::None());
      table.AddRow(std::move(row));
      continue;
    }
    const v1::WorkerProgress& progress = member->progress();
    row.push_back(
        Cell::Number(progress.epoch(), absl::StrCat(progress.epoch(), "/", progress.epochs())));
    row.push_back(Cell::Number(static_cast<double>(progress.step()),
                               absl::StrCat(progress.step(), "/", progress.steps())));
    row.push_back(Cell::Number(progress.loss(), absl::StrFormat("%.4f", progress.loss())));
    row.push_back(AccuracyCell(progress.has_train_accuracy(), progress.train_accuracy()));
    row.push_back(AccuracyCell(progress.has_test_accuracy(), progress.test_accuracy()));
    row.push_back(Cell::Number(progress.examples_per_second(),
                               absl::StrFormat("%.0f", progress.examples_per_second())));
    row.push_back(TimeSplitCell(progress));
    row.push_back(progress.device().empty() ? Cell::None() : Cell(progress.device()));
    row.push_back(progress.straggler().empty() ? Cell::None() : Cell(progress.straggler()));
    table.AddRow(std::move(row));
  }
  return table;
}

}  // namespace ps::psctl
