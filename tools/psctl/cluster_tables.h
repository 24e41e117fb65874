// The tables psctl shows of a coordinator's ClusterStatus: members, shards, tables (the
// catalog) and workers' training progress. Pure functions of the status, so tests check them
// exactly without a cluster; Table renders each as aligned text or JSON.
#ifndef PS_TOOLS_PSCTL_CLUSTER_TABLES_H_
#define PS_TOOLS_PSCTL_CLUSTER_TABLES_H_

#include "proto/coordinator.pb.h"
#include "tools/psctl/text_table.h"

namespace ps::psctl {

// Every member, servers first, each in registration order: role, id, address, state (alive,
// dead, draining), heartbeat age, the epoch it last reported, and for servers the shards it
// leads and backs up.
Table MembersTable(const v1::ClusterStatus& status);

// Every shard: primary, backups in promotion order, learners being filled, health, and the move
// in flight (drain, rebalancing) if any.
Table ShardsTable(const v1::ClusterStatus& status);

// The table catalog in creation order: name, id, kind, size, optimizer, consistency.
Table CatalogTable(const v1::ClusterStatus& status);

// Every live worker, by rank, with its last progress report: epoch, step, loss, accuracy,
// speed, where its time went, its device, and why it is a straggler ("-" when it is not).
// Columns of a worker that has not reported yet show "-".
Table WorkersTable(const v1::ClusterStatus& status);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_CLUSTER_TABLES_H_
