#include "worker/training/table_specs.h"

#include "absl/strings/str_cat.h"

namespace ps {
namespace {

absl::Status FillCommon(const TrainingChoices& choices, v1::TableSpec& spec) {
  spec.set_name(choices.table_name);
  v1::OptimizerSpec& optimizer = *spec.mutable_optimizer();
  float default_rate = 0.05f;
  if (choices.optimizer == "sgd") {
    optimizer.set_kind(v1::OptimizerSpec::KIND_SGD);
  } else if (choices.optimizer == "momentum") {
    optimizer.set_kind(v1::OptimizerSpec::KIND_MOMENTUM);
    optimizer.set_momentum(0.9f);
  } else if (choices.optimizer == "adagrad") {
    optimizer.set_kind(v1::OptimizerSpec::KIND_ADAGRAD);
    optimizer.set_initial_accumulator(0.1f);
    optimizer.set_epsilon(1e-8f);
  } else if (choices.optimizer == "adam") {
    optimizer.set_kind(v1::OptimizerSpec::KIND_ADAM);
    optimizer.set_beta1(0.9f);
    optimizer.set_beta2(0.999f);
    optimizer.set_epsilon(1e-8f);
    default_rate = 0.001f;
  } else if (choices.optimizer == "ftrl") {
    optimizer.set_kind(v1::OptimizerSpec::KIND_FTRL);
    optimizer.set_initial_accumulator(0.1f);
    optimizer.set_ftrl_beta(1.0f);
    default_rate = 0.1f;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer must be sgd, momentum, adagrad, adam or ftrl, got '", choices.optimizer, "'"));
  }
  if (choices.learning_rate < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning rate must not be negative, got ", choices.learning_rate));
  }
  optimizer.set_learning_rate(choices.learning_rate > 0 ? choices.learning_rate : default_rate);
  if (!(choices.decay_per_epoch > 0 && choices.decay_per_epoch <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learning-rate decay per epoch must be in (0, 1], got ", choices.decay_per_epoch));
  }
  if (choices.decay_per_epoch < 1 && choices.updates_per_epoch > 0) {
    optimizer.set_decay_steps(choices.updates_per_epoch);
    optimizer.set_decay_rate(choices.decay_per_epoch);
  }

  v1::ConsistencySpec& consistency = *spec.mutable_consistency();
  if (choices.consistency == "bsp") {
    consistency.set_model(v1::ConsistencySpec::MODEL_BSP);
  } else if (choices.consistency == "asp") {
    consistency.set_model(v1::ConsistencySpec::MODEL_ASP);
  } else if (choices.consistency == "ssp") {
    consistency.set_model(v1::ConsistencySpec::MODEL_SSP);
    consistency.set_staleness(choices.staleness);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency must be bsp, ssp or asp, got '", choices.consistency, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::TableSpec> DenseTableSpec(const TrainingChoices& choices, uint64_t size,
                                             float init_scale) {
  v1::TableSpec spec;
  if (absl::Status status = FillCommon(choices, spec); !status.ok()) return status;
  if (choices.optimizer == "ftrl") {
    return absl::InvalidArgumentError("ftrl is for sparse tables");
  }
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(size);
  v1::InitializerSpec& initializer = *spec.mutable_initializer();
  initializer.set_kind(v1::InitializerSpec::KIND_UNIFORM);
  initializer.set_min(-init_scale);
  initializer.set_max(init_scale);
  initializer.set_seed(choices.seed);
  return spec;
}

absl::StatusOr<v1::TableSpec> SparseTableSpec(const TrainingChoices& choices, uint32_t dim) {
  v1::TableSpec spec;
  if (absl::Status status = FillCommon(choices, spec); !status.ok()) return status;
  spec.set_kind(v1::TABLE_KIND_SPARSE);
  spec.set_sparse_dim(dim);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_ZEROS);
  return spec;
}

}  // namespace ps
