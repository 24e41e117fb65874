#include "server/coordinator/status_http.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "server/coordinator/status_page.h"

namespace ps {
namespace {

const char* RoleName(v1::MemberRef::Role role) {
  return role == v1::MemberRef::ROLE_SERVER   ? "server"
         : role == v1::MemberRef::ROLE_WORKER ? "worker"
                                              : "unknown";
}

const char* StateName(v1::MemberState state) {
  switch (state) {
    case v1::MEMBER_STATE_ALIVE:
      return "alive";
    case v1::MEMBER_STATE_DEAD:
      return "dead";
    default:
      return "other";
  }
}

}  // namespace

std::map<std::string, HttpHandler> StatusHandlers(const CoordinatorService& service) {
  std::map<std::string, HttpHandler> handlers;
  handlers["/"] = [](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/html; charset=utf-8";
    response.body = std::string(StatusPageHtml());
    return response;
  };
  handlers["/api/status"] = [&service](const HttpRequest& request) {
    const auto curves = request.params.find("curves");
    const v1::ClusterStatus status =
        service.FullStatus(curves != request.params.end() && curves->second == "1");
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    HttpResponse response;
    response.content_type = "application/json";
    const auto printed =
        google::protobuf::util::MessageToJsonString(status, &response.body, options);
    if (!printed.ok()) {
      response.status = 500;
      response.content_type = "text/plain; charset=utf-8";
      response.body = absl::StrCat("cannot print the status as JSON: ", printed.ToString());
    }
    return response;
  };
  handlers["/metrics"] = MetricsHandler(GlobalMetrics());
  return handlers;
}

void CollectCoordinatorMetrics(const v1::ClusterStatus& status, uint32_t replication_factor,
                               Exposition& out) {
  const v1::ClusterMap& map = status.map();
  out.Add("ps_coordinator_map_epoch", "Epoch of the cluster map (bumped when shards move).",
          MetricType::kGauge, {}, static_cast<double>(map.epoch()));
  out.Add("ps_coordinator_membership_version",
          "Membership version of the cluster map (bumped when members join or die).",
          MetricType::kGauge, {}, static_cast<double>(map.membership_version()));
  std::map<std::pair<std::string, std::string>, int> members;
  for (const char* role : {"server", "worker"}) {
    for (const char* state : {"alive", "dead"}) members[{role, state}] = 0;
  }
  for (const v1::MemberHealth& member : status.members()) {
    ++members[{RoleName(member.member().role()), StateName(member.state())}];
  }
  for (const auto& [key, count] : members) {
    out.Add("ps_coordinator_members", "Members by role and state.", MetricType::kGauge,
            {{"role", key.first}, {"state", key.second}}, count);
  }
  int under = 0, without_primary = 0, learners = 0;
  for (const v1::ShardAssignment& shard : map.shards()) {
    under += static_cast<uint32_t>(shard.replicas_size()) < replication_factor;
    without_primary += shard.replicas_size() == 0;
    learners += shard.learners_size();
  }
  out.Add("ps_coordinator_shards", "Virtual shards of the cluster.", MetricType::kGauge, {},
          map.shards_size());
  out.Add("ps_coordinator_shards_under_replicated",
          "Shards with fewer replicas than the replication factor.", MetricType::kGauge, {}, under);
  out.Add("ps_coordinator_shards_without_primary", "Shards with no replica at all.",
          MetricType::kGauge, {}, without_primary);
  out.Add("ps_coordinator_learners",
          "Replicas being copied to servers (re-replication and moves in flight).",
          MetricType::kGauge, {}, learners);
  out.Add("ps_coordinator_moves", "Replica moves in flight (drain, rebalancing).",
          MetricType::kGauge, {}, status.moves_size());
  out.Add("ps_coordinator_tables", "Tables in the catalog.", MetricType::kGauge, {},
          map.tables_size());
  std::map<uint32_t, uint32_t> ranks;
  for (const v1::WorkerInfo& worker : map.workers()) ranks[worker.worker_id()] = worker.rank();
  for (const v1::MemberHealth& member : status.members()) {
    if (!member.has_progress()) continue;
    const v1::WorkerProgress& progress = member.progress();
    const std::vector<std::pair<std::string, std::string>> labels = {
        {"worker", absl::StrCat(member.member().id())},
        {"rank", absl::StrCat(ranks[member.member().id()])}};
    out.Add("ps_coordinator_worker_step", "Steps of its rank a live worker has done.",
            MetricType::kGauge, labels, static_cast<double>(progress.step()));
    out.Add("ps_coordinator_worker_examples_per_second",
            "A live worker's training speed over its last report interval.", MetricType::kGauge,
            labels, progress.examples_per_second());
    out.Add("ps_coordinator_worker_loss", "A live worker's mean training loss, last interval.",
            MetricType::kGauge, labels, progress.loss());
    out.Add("ps_coordinator_worker_straggler",
            "1 when a live worker holds the others up (status page and psctl workers say why).",
            MetricType::kGauge, labels, progress.straggler().empty() ? 0 : 1);
  }
}

}  // namespace ps
