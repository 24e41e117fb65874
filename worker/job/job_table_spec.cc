#include "worker/job/job_table_spec.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/model/mlp.h"

namespace ps {

TrainingChoices TrainingChoicesFor(const WorkerJobOptions& options,
                                   const std::string& default_table, int64_t steps_per_epoch,
                                   int workers) {
  TrainingChoices choices;
  choices.table_name = options.table.empty() ? default_table : options.table;
  choices.optimizer = options.optimizer;
  choices.learning_rate = options.learning_rate;
  choices.consistency = options.consistency;
  choices.staleness = options.staleness;
  choices.seed = options.seed;
  choices.decay_per_epoch = options.lr_decay;
  choices.updates_per_epoch =
      steps_per_epoch * (choices.consistency == "bsp" ? 1 : static_cast<int64_t>(workers));
  return choices;
}

absl::StatusOr<std::vector<int>> MlpLayerSizes(const WorkerJobOptions& options, int inputs,
                                               int classes) {
  PS_ASSIGN_OR_RETURN(const std::vector<int> hidden, ParseHiddenSizes(options.hidden));
  std::vector<int> layers = {inputs};
  layers.insert(layers.end(), hidden.begin(), hidden.end());
  layers.push_back(classes);
  return layers;
}

absl::StatusOr<v1::TableSpec> MlpTableSpec(const WorkerJobOptions& options,
                                           absl::Span<const int> layer_sizes,
                                           int64_t steps_per_epoch, int workers) {
  return DenseTableSpec(TrainingChoicesFor(options, "mlp", steps_per_epoch, workers),
                        MlpParameterCount(layer_sizes), options.init_scale);
}

absl::StatusOr<v1::TableSpec> SparseLrTableSpec(const WorkerJobOptions& options,
                                                int64_t steps_per_epoch, int workers) {
  return SparseTableSpec(TrainingChoicesFor(options, "sparse_lr", steps_per_epoch, workers), 1);
}

std::string DescribeTableSpec(const WorkerJobOptions& options, const v1::TableSpec& spec) {
  std::string consistency = options.consistency;
  if (spec.consistency().model() == v1::ConsistencySpec::MODEL_SSP) {
    absl::StrAppend(&consistency, "(", spec.consistency().staleness(), ")");
  }
  std::string text = absl::StrCat(consistency, ", ", options.optimizer, " lr ",
                                  spec.optimizer().learning_rate());
  if (spec.optimizer().decay_steps() > 0) {
    absl::StrAppend(&text, " x", spec.optimizer().decay_rate(), " every ",
                    spec.optimizer().decay_steps(), " updates");
  }
  return text;
}

}  // namespace ps
