#include "worker/client/request_builder.h"

#include "common/frame.h"
#include "proto/parameter_server.pb.h"

namespace ps {
namespace {

// Fills the slice fields a push and a pull share and appends the part's keys to the payload.
void DescribePart(const Operation& op, const ShardPart& part, v1::ShardSlice* slice,
                  std::vector<grpc::Slice>* payload) {
  slice->set_table_id(op.table->table_id());
  slice->set_shard_id(part.shard_id);
  slice->set_num_keys(part.num_keys);
  if (part.num_keys > 0) payload->push_back(part.keys);
}

}  // namespace

namespace {

void FillPush(const Operation& op, const std::vector<ShardPart*>& parts, const v1::ClusterMap& map,
              const RequestSender& sender, v1::PushRequest* header,
              std::vector<grpc::Slice>* payload) {
  header->set_epoch(map.epoch());
  header->set_catalog_version(map.catalog_version());
  header->set_membership_version(map.membership_version());
  header->set_worker_id(sender.worker_id);
  header->set_incarnation(sender.incarnation);
  header->set_seq(op.seq);
  header->set_clock(op.clock);
  for (const ShardPart* part : parts) {
    v1::ShardSlice* slice = header->add_slices();
    DescribePart(op, *part, slice, payload);
    *slice->mutable_values() = part->values_header;
    payload->push_back(part->values);
  }
}

void FillPull(const Operation& op, const std::vector<ShardPart*>& parts, const v1::ClusterMap& map,
              const RequestSender& sender, uint64_t clock, v1::Encoding encoding,
              v1::PullRequest* header, std::vector<grpc::Slice>* payload) {
  header->set_epoch(map.epoch());
  header->set_catalog_version(map.catalog_version());
  header->set_membership_version(map.membership_version());
  header->set_worker_id(sender.worker_id);
  header->set_incarnation(sender.incarnation);
  header->set_clock(clock);
  header->set_value_encoding(encoding);
  for (const ShardPart* part : parts) DescribePart(op, *part, header->add_slices(), payload);
}

}  // namespace

grpc::ByteBuffer BuildPushRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                  const v1::ClusterMap& map, const RequestSender& sender) {
  v1::PushRequest header;
  std::vector<grpc::Slice> payload;
  FillPush(op, parts, map, sender, &header, &payload);
  return MakeFrame(header, payload);
}

grpc::ByteBuffer BuildPullRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                  const v1::ClusterMap& map, const RequestSender& sender,
                                  v1::Encoding encoding) {
  v1::PullRequest header;
  std::vector<grpc::Slice> payload;
  FillPull(op, parts, map, sender, op.clock, encoding, &header, &payload);
  return MakeFrame(header, payload);
}

grpc::ByteBuffer BuildPushPullRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                      const v1::ClusterMap& map, const RequestSender& sender,
                                      v1::Encoding encoding) {
  v1::PushPullRequest header;
  // The pull's keys first (dense: none), then the push's payload.
  std::vector<grpc::Slice> payload;
  FillPull(op, parts, map, sender, op.pull_clock, encoding, header.mutable_pull(), &payload);
  FillPush(op, parts, map, sender, header.mutable_push(), &payload);
  return MakeFrame(header, payload);
}

}  // namespace ps
