// A worker for the exact-sum and ledger tests: for --clocks clocks it pulls both tables (waiting
// as their consistency model requires), then pushes the known increments of increments.h, then
// advances its clock. Under BSP it first joins the job's clock (PsClient::JoinBspClock), so a
// restarted worker continues at the clock the others reached. With --ledger it appends a line per acknowledged push ("dense RANK CLOCK"
// or "sparse RANK CLOCK"), flushed at once, so a test can sum exactly what the servers acknowledged.
// Exits 0 when every call succeeded.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "tests/integration/increments.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(std::string, coordinator, "", "host:port of the coordinator(s), comma-separated.");
ABSL_FLAG(std::string, dense_table, "dense", "Dense table to push to.");
ABSL_FLAG(std::string, sparse_table, "sparse", "Sparse table to push to.");
ABSL_FLAG(int, workers, 4, "Workers to wait for before the first clock.");
ABSL_FLAG(int, clocks, 5, "Clocks to run.");
ABSL_FLAG(std::string, ledger, "", "File to append a line per acknowledged push to.");
ABSL_FLAG(int, clock_pause_ms, 0,
          "Pause after each clock, in ms: paces a run so that a fault lands in its middle.");

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "increment_worker: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::PsClientOptions options;
  options.coordinator_address = absl::GetFlag(FLAGS_coordinator);
  options.wait_for_workers = absl::GetFlag(FLAGS_workers);
  absl::StatusOr<std::unique_ptr<ps::PsClient>> client = ps::PsClient::Connect(options);
  if (!client.ok()) return Fail("connect", client.status());
  absl::StatusOr<ps::v1::TableInfo> dense = (*client)->LookupTable(absl::GetFlag(FLAGS_dense_table));
  if (!dense.ok()) return Fail("dense table", dense.status());
  absl::StatusOr<ps::v1::TableInfo> sparse =
      (*client)->LookupTable(absl::GetFlag(FLAGS_sparse_table));
  if (!sparse.ok()) return Fail("sparse table", sparse.status());

  const uint32_t rank = (*client)->rank();
  std::FILE* ledger = nullptr;
  if (!absl::GetFlag(FLAGS_ledger).empty()) {
    ledger = std::fopen(absl::GetFlag(FLAGS_ledger).c_str(), "a");
    if (ledger == nullptr) return Fail("ledger", absl::InternalError("cannot open the ledger"));
  }
  const auto record = [&](const char* table, int clock) {
    if (ledger == nullptr) return;
    std::fprintf(ledger, "%s %u %d\n", table, rank, clock);
    std::fflush(ledger);
  };
  const std::vector<uint64_t> keys = ps::testing::SparseKeys(rank);
  std::vector<float> weights(ps::testing::kDenseSize), gradient(ps::testing::kDenseSize);
  std::vector<float> rows(keys.size() * ps::testing::kSparseDim);
  std::vector<float> row_gradients(rows.size());
  // BSP: join the job's clock (0 for a new job; the others' clock for a restarted worker), the
  // largest over both tables since one clock counts for both.
  if (dense->spec().consistency().model() == ps::v1::ConsistencySpec::MODEL_BSP) {
    absl::StatusOr<uint64_t> dense_clock = (*client)->JoinBspClock(*dense);
    if (!dense_clock.ok()) return Fail("join dense clock", dense_clock.status());
    absl::StatusOr<uint64_t> sparse_clock = (*client)->JoinBspClock(*sparse);
    if (!sparse_clock.ok()) return Fail("join sparse clock", sparse_clock.status());
    (*client)->SetClock(std::max(*dense_clock, *sparse_clock));
    std::printf("worker rank %u joined at clock %lu\n", rank,
                static_cast<unsigned long>((*client)->clock()));
    std::fflush(stdout);
  }
  for (int clock = static_cast<int>((*client)->clock()); clock < absl::GetFlag(FLAGS_clocks);
       ++clock) {
    if (absl::Status s = (*client)->Pull(*dense, absl::MakeSpan(weights)); !s.ok()) {
      return Fail("pull dense", s);
    }
    if (absl::Status s = (*client)->PullSparse(*sparse, keys, absl::MakeSpan(rows)); !s.ok()) {
      return Fail("pull sparse", s);
    }
    for (uint64_t i = 0; i < gradient.size(); ++i) {
      gradient[i] = -ps::testing::DenseIncrement(rank, clock, i);
    }
    for (size_t k = 0; k < keys.size(); ++k) {
      for (uint32_t j = 0; j < ps::testing::kSparseDim; ++j) {
        row_gradients[k * ps::testing::kSparseDim + j] =
            -ps::testing::SparseIncrement(rank, clock, keys[k], j);
      }
    }
    if (absl::Status s = (*client)->Push(*dense, gradient); !s.ok()) return Fail("push dense", s);
    record("dense", clock);
    if (absl::Status s = (*client)->PushSparse(*sparse, keys, row_gradients); !s.ok()) {
      return Fail("push sparse", s);
    }
    record("sparse", clock);
    (*client)->AdvanceClock();
    if (absl::GetFlag(FLAGS_clock_pause_ms) > 0) {
      absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_clock_pause_ms)));  // Pacing only.
    }
  }
  std::printf("worker rank %u finished %d clocks\n", rank, absl::GetFlag(FLAGS_clocks));
  return 0;
}
