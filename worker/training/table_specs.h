// The table specs of the models a worker trains, from the few choices a user makes on the
// command line. Every worker of a job builds the same spec, so CreateTable from each of them is
// idempotent; a worker started with different choices gets AlreadyExists.
#ifndef PS_WORKER_TRAINING_TABLE_SPECS_H_
#define PS_WORKER_TRAINING_TABLE_SPECS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/types.pb.h"

namespace ps {

struct TrainingChoices {
  std::string table_name;
  // sgd, momentum, adagrad, adam or ftrl.
  std::string optimizer = "adam";
  // 0 picks the optimizer's usual rate (adam 0.001, ftrl 0.1, the others 0.05).
  float learning_rate = 0;
  // bsp, ssp or asp.
  std::string consistency = "bsp";
  // SSP's bound, in clocks.
  uint32_t staleness = 3;
  uint64_t seed = 1;
  // Learning-rate factor per epoch (1: constant), and the server-side updates one epoch makes:
  // steps per epoch under BSP (one averaged update per clock), times the workers under SSP and
  // ASP (each push applied on arrival).
  float decay_per_epoch = 1;
  uint64_t updates_per_epoch = 0;
};

// A dense table of `size` values, initialised uniformly in [-init_scale, init_scale).
// Errors: InvalidArgument naming the bad choice.
absl::StatusOr<v1::TableSpec> DenseTableSpec(const TrainingChoices& choices, uint64_t size,
                                             float init_scale);
// A sparse table with `dim` floats per key, initialised to zeros.
absl::StatusOr<v1::TableSpec> SparseTableSpec(const TrainingChoices& choices, uint32_t dim);

}  // namespace ps

#endif  // PS_WORKER_TRAINING_TABLE_SPECS_H_
