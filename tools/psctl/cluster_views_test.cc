// The views psctl prints of a hand-built ClusterStatus: every column, health and straggler,
// exactly as an operator reads them.
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tools/psctl/cluster_tables.h"
#include "tools/psctl/status_summary.h"

namespace ps::psctl {
namespace {

const absl::Time kNow = absl::FromUnixMillis(1700000012000);

// Three servers (one draining, one dead), three workers (two alive with progress, the second a
// straggler; one dead), four shards of R = 2: healthy, under-replicated with a learner, without
// primary, and healthy with a drain move; a dense and a sparse table; a checkpoint 12 s old and
// a failed one.
v1::ClusterStatus ExampleStatus() {
  v1::ClusterStatus status;
  const bool parsed = google::protobuf::TextFormat::ParseFromString(
      R"pb(
        map {
          epoch: 9
          num_shards: 4
          replication_factor: 2
          catalog_version: 2
          membership_version: 11
          servers { server_id: 1 address: "10.0.0.1:7000" state: MEMBER_STATE_ALIVE }
          servers { server_id: 2 address: "10.0.0.2:7000" state: MEMBER_STATE_ALIVE draining: true }
          servers { server_id: 3 address: "10.0.0.3:7000" state: MEMBER_STATE_DEAD }
          workers { worker_id: 4 address: "10.0.1.1:0" state: MEMBER_STATE_ALIVE rank: 1 }
          workers { worker_id: 5 state: MEMBER_STATE_ALIVE rank: 0 }
          workers { worker_id: 6 state: MEMBER_STATE_DEAD rank: 2 }
          shards {
            shard_id: 0
            replicas: [ 1, 2 ]
          }
          shards {
            shard_id: 1
            replicas: [ 2 ]
            learners: [ 1 ]
          }
          shards { shard_id: 2 }
          shards {
            shard_id: 3
            replicas: [ 2, 1 ]
          }
          tables {
            table_id: 1
            spec {
              name: "mlp"
              kind: TABLE_KIND_DENSE
              dense_size: 203530
              optimizer { kind: KIND_ADAM learning_rate: 0.001 }
              consistency { model: MODEL_BSP }
            }
          }
          tables {
            table_id: 2
            spec {
              name: "emb"
              kind: TABLE_KIND_SPARSE
              sparse_dim: 16
              optimizer { kind: KIND_FTRL learning_rate: 0.05 }
              consistency { model: MODEL_SSP staleness: 2 }
            }
          }
        }
        members {
          member { role: ROLE_SERVER id: 1 }
          state: MEMBER_STATE_ALIVE
          last_heartbeat_age_ms: 120
          known_epoch: 9
        }
        members {
          member { role: ROLE_SERVER id: 2 }
          state: MEMBER_STATE_ALIVE
          last_heartbeat_age_ms: 80
          known_epoch: 8
        }
        members {
          member { role: ROLE_SERVER id: 3 }
          state: MEMBER_STATE_DEAD
        }
        members {
          member { role: ROLE_WORKER id: 4 }
          state: MEMBER_STATE_ALIVE
          last_heartbeat_age_ms: 15
          known_epoch: 9
          progress {
            reports: 30
            epoch: 3
            epochs: 20
            step: 1200
            steps: 18760
            loss: 0.41234
            train_accuracy: 0.85
            examples_per_second: 1234.4
            compute_seconds: 6
            transfer_seconds: 3
            barrier_wait_seconds: 1
            device: "cpu"
            straggler: "slowest: 40% below the median speed"
          }
        }
        members {
          member { role: ROLE_WORKER id: 5 }
          state: MEMBER_STATE_ALIVE
          last_heartbeat_age_ms: 190
          known_epoch: 9
          progress {
            reports: 31
            epoch: 3
            epochs: 20
            step: 1260
            steps: 18760
            loss: 0.39
            train_accuracy: 0.8612
            test_accuracy: 0.84
            examples_per_second: 2050
            compute_seconds: 7
            transfer_seconds: 2
            barrier_wait_seconds: 1
            device: "cuda:0 NVIDIA H200"
          }
        }
        members {
          member { role: ROLE_WORKER id: 6 }
          state: MEMBER_STATE_DEAD
        }
        min_servers: 3
        heartbeat_interval_ms: 200
        failure_timeout_ms: 1000
        checkpoints {
          directory: "/ckpt"
          last_complete_id: 4
          last_complete_unix_ms: 1700000000000
          last_error: "server 3: disk full"
        }
        moves { shard_id: 3 from_server: 2 to_server: 1 reason: "drain" lead: true }
        max_concurrent_moves: 2
      )pb",
      &status);
  EXPECT_TRUE(parsed);
  return status;
}

TEST(StatusSummaryTest, SaysEverythingAtAGlance) {
  EXPECT_EQ(StatusSummary(ExampleStatus(), kNow),
            "map epoch 9 (membership version 11, catalog version 2); heartbeat every 200 ms, "
            "failure timeout 1000 ms\n"
            "members: 2 servers alive (1 draining), 1 dead; 2 workers alive, 1 dead\n"
            "shards: 4 x 2 replicas: 2 healthy, 1 under-replicated (shard 1), 1 without primary "
            "(shard 2); 1 learner copying a snapshot\n"
            "tables: 2 (mlp, emb)\n"
            "moves: 1 in flight (at most 2 at once)\n"
            "  shard 3: server 2 -> server 1 (drain, takes over as primary)\n"
            "checkpoints: in /ckpt, newest complete 4 (12 s ago)\n"
            "  LAST CHECKPOINT FAILED: server 3: disk full\n"
            "stragglers: 1\n"
            "  worker 4 (rank 1): slowest: 40% below the median speed\n");
}

TEST(StatusSummaryTest, SaysWhenShardsAreNotPlacedAndNothingIsWrong) {
  v1::ClusterStatus status;
  status.mutable_map()->set_epoch(1);
  status.set_min_servers(3);
  EXPECT_EQ(StatusSummary(status, kNow),
            "map epoch 1 (membership version 0, catalog version 0); heartbeat every 0 ms, "
            "failure timeout 0 ms\n"
            "members: 0 servers alive, 0 dead; 0 workers alive, 0 dead\n"
            "shards: not placed yet: waiting for 3 servers to register\n"
            "tables: 0\n"
            "moves: none\n"
            "checkpoints: off (ps_coordinator --checkpoint_dir)\n"
            "stragglers: none\n");
}

TEST(ClusterTablesTest, MembersShowAddressStateHeartbeatAndShardsHeld) {
  EXPECT_EQ(MembersTable(ExampleStatus()).ToText(),
            "ROLE    ID  ADDRESS        STATE     HEARTBEAT  EPOCH  PRIMARIES  BACKUPS\n"
            "server  1   10.0.0.1:7000  alive     120 ms     9      1          1\n"
            "server  2   10.0.0.2:7000  draining  80 ms      8      2          1\n"
            "server  3   10.0.0.3:7000  dead      -          -      0          0\n"
            "worker  4   10.0.1.1:0     alive     15 ms      9      -          -\n"
            "worker  5   -              alive     190 ms     9      -          -\n"
            "worker  6   -              dead      -          -      -          -\n");
}

TEST(ClusterTablesTest, MembersAsJsonKeepNumbersAndNulls) {
  v1::ClusterStatus status = ExampleStatus();
  status.mutable_members()->DeleteSubrange(1, 5);
  EXPECT_EQ(MembersTable(status).ToJson(),
            R"([{"role":"server","id":1,"address":"10.0.0.1:7000","state":"alive",)"
            R"("heartbeat_age_ms":120,"known_epoch":9,"primaries":1,"backups":1}])");
}

TEST(ClusterTablesTest, ShardsShowChainHealthAndMove) {
  EXPECT_EQ(ShardsTable(ExampleStatus()).ToText(),
            "SHARD  PRIMARY  BACKUPS  LEARNERS  HEALTH                          MOVE\n"
            "0      1        2        -         healthy                         -\n"
            "1      2        -        1         under-replicated (1 of 2)       -\n"
            "2      -        -        -         NO PRIMARY: every replica lost  -\n"
            "3      2        1        -         healthy                         2 -> 1 (drain, "
            "takes the lead)\n");
}

TEST(ClusterTablesTest, CatalogShowsKindSizeOptimizerConsistency) {
  EXPECT_EQ(CatalogTable(ExampleStatus()).ToText(),
            "NAME  ID  KIND    SIZE               OPTIMIZER  LEARNING RATE  CONSISTENCY\n"
            "mlp   1   dense   203530 floats      adam       0.001          bsp\n"
            "emb   2   sparse  16 floats per key  ftrl       0.05           ssp (staleness 2)\n");
}

TEST(ClusterTablesTest, WorkersByRankWithProgressAndStraggler) {
  EXPECT_EQ(WorkersTable(ExampleStatus()).ToText(),
            "RANK  ID  EPOCH  STEP        LOSS    TRAIN ACC  TEST ACC  EXAMPLES/S  "
            "COMPUTE/TRANSFER/WAIT  "
            "DEVICE              STRAGGLER\n"
            "0     5   3/20   1260/18760  0.3900  0.8612     0.8400    2050        70/20/10 %      "
            "       "
            "cuda:0 NVIDIA H200  -\n"
            "1     4   3/20   1200/18760  0.4123  0.8500     -         1234        60/30/10 %      "
            "       "
            "cpu                 slowest: 40% below the median speed\n");
}

TEST(ClusterTablesTest, WorkerWithoutReportShowsDashes) {
  v1::ClusterStatus status = ExampleStatus();
  status.mutable_members(3)->clear_progress();
  status.mutable_members()->DeleteSubrange(4, 1);
  EXPECT_EQ(WorkersTable(status).ToText(),
            "RANK  ID  EPOCH  STEP  LOSS  TRAIN ACC  TEST ACC  EXAMPLES/S  COMPUTE/TRANSFER/WAIT  "
            "DEVICE  STRAGGLER\n"
            "1     4   -      -     -     -          -         -           -                      "
            "-       -\n");
}

}  // namespace
}  // namespace ps::psctl
