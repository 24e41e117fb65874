// The table a job trains, from its options: the mlp's layer sizes and dense table, or
// sparse_lr's sparse table, plus the one-line description workers log. Every worker of a job
// builds the same spec from the same options, which makes CreateTable from each idempotent.
// Pure functions; thread-safe.
#ifndef PS_WORKER_JOB_JOB_TABLE_SPEC_H_
#define PS_WORKER_JOB_JOB_TABLE_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/types.pb.h"
#include "worker/job/worker_job_options.h"
#include "worker/training/table_specs.h"

namespace ps {

// The choices behind the table spec: --table (or `default_table`), optimizer, learning rate and
// its decay, consistency, staleness, seed. One epoch makes `steps_per_epoch` server updates under
// BSP (one averaged update per clock) and `workers` times as many under SSP and ASP.
TrainingChoices TrainingChoicesFor(const WorkerJobOptions& options,
                                   const std::string& default_table, int64_t steps_per_epoch,
                                   int workers);

// The mlp's layer sizes: `inputs`, the --hidden sizes, `classes`.
// Errors: InvalidArgument for --hidden that ParseHiddenSizes refuses.
absl::StatusOr<std::vector<int>> MlpLayerSizes(const WorkerJobOptions& options, int inputs,
                                               int classes);

// The mlp's dense table (named "mlp" unless --table says otherwise), holding MlpParameterCount(
// layer_sizes) values initialised uniformly in [-init_scale, init_scale).
// Errors: InvalidArgument for a choice DenseTableSpec refuses.
absl::StatusOr<v1::TableSpec> MlpTableSpec(const WorkerJobOptions& options,
                                           absl::Span<const int> layer_sizes,
                                           int64_t steps_per_epoch, int workers);

// sparse_lr's sparse table (named "sparse_lr" unless --table says otherwise): one float per key,
// initialised to zeros. Errors: InvalidArgument for a choice SparseTableSpec refuses.
absl::StatusOr<v1::TableSpec> SparseLrTableSpec(const WorkerJobOptions& options,
                                                int64_t steps_per_epoch, int workers);

// "bsp, adam lr 0.001", with SSP's bound ("ssp(3), ...") and a decay when the spec has one
// (" x0.9 every 100 updates").
std::string DescribeTableSpec(const WorkerJobOptions& options, const v1::TableSpec& spec);

}  // namespace ps

#endif  // PS_WORKER_JOB_JOB_TABLE_SPEC_H_
