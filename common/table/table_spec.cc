#include "common/table/table_spec.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ps {
namespace {

absl::Status Invalid(const v1::TableSpec& spec, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("table '", spec.name(), "': ", why));
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool Finite(std::initializer_list<float> values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

absl::Status ValidateOptimizer(const v1::TableSpec& spec) {
  const v1::OptimizerSpec& o = spec.optimizer();
  if (!Finite({o.learning_rate(), o.momentum(), o.beta1(), o.beta2(), o.epsilon(),
               o.initial_accumulator(), o.l1(), o.l2(), o.decay_rate()})) {
    return Invalid(spec, "optimizer parameters must be finite");
  }
  if (o.learning_rate() <= 0) return Invalid(spec, "optimizer learning_rate must be positive");
  if (o.decay_steps() > 0 && (o.decay_rate() <= 0 || o.decay_rate() > 1)) {
    return Invalid(spec, "decay_rate must be in (0, 1] when decay_steps is set");
  }
  if (o.decay_steps() > 0 && o.kind() == v1::OptimizerSpec::KIND_FTRL) {
    return Invalid(spec, "FTRL has its own per-coordinate rate; decay_steps must be 0");
  }
  switch (o.kind()) {
    case v1::OptimizerSpec::KIND_SGD:
      return absl::OkStatus();
    case v1::OptimizerSpec::KIND_MOMENTUM:
      if (o.momentum() < 0 || o.momentum() >= 1) return Invalid(spec, "momentum must be in [0, 1)");
      return absl::OkStatus();
    case v1::OptimizerSpec::KIND_ADAGRAD:
      if (o.epsilon() <= 0) return Invalid(spec, "adagrad epsilon must be positive");
      if (o.initial_accumulator() < 0) return Invalid(spec, "initial_accumulator must be >= 0");
      return absl::OkStatus();
    case v1::OptimizerSpec::KIND_ADAM:
      if (o.beta1() < 0 || o.beta1() >= 1 || o.beta2() < 0 || o.beta2() >= 1) {
        return Invalid(spec, "adam beta1 and beta2 must be in [0, 1)");
      }
      if (o.epsilon() <= 0) return Invalid(spec, "adam epsilon must be positive");
      return absl::OkStatus();
    case v1::OptimizerSpec::KIND_FTRL:
      if (spec.kind() != v1::TABLE_KIND_SPARSE) return Invalid(spec, "FTRL is for sparse tables");
      if (o.l1() < 0 || o.l2() < 0) return Invalid(spec, "FTRL l1 and l2 must be >= 0");
      if (o.initial_accumulator() < 0) return Invalid(spec, "initial_accumulator must be >= 0");
      return absl::OkStatus();
    default:
      return Invalid(spec, "unknown or missing optimizer kind");
  }
}

absl::Status ValidateInitializer(const v1::TableSpec& spec) {
  const v1::InitializerSpec& init = spec.initializer();
  if (!Finite({init.value(), init.min(), init.max(), init.mean(), init.stddev()})) {
    return Invalid(spec, "initializer parameters must be finite");
  }
  switch (init.kind()) {
    case v1::InitializerSpec::KIND_UNSPECIFIED:  // Same as zeros.
    case v1::InitializerSpec::KIND_ZEROS:
    case v1::InitializerSpec::KIND_CONSTANT:
      return absl::OkStatus();
    case v1::InitializerSpec::KIND_UNIFORM:
      if (!(init.min() < init.max())) return Invalid(spec, "uniform initializer needs min < max");
      return absl::OkStatus();
    case v1::InitializerSpec::KIND_NORMAL:
      if (init.stddev() < 0) return Invalid(spec, "normal initializer needs stddev >= 0");
      return absl::OkStatus();
    default:
      return Invalid(spec, "unknown initializer kind");
  }
}

}  // namespace

absl::Status ValidateTableSpec(const v1::TableSpec& spec) {
  if (!ValidName(spec.name())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table name '", spec.name(), "' must be 1-128 characters of [A-Za-z0-9_.-]"));
  }
  switch (spec.kind()) {
    case v1::TABLE_KIND_DENSE:
      if (spec.dense_size() == 0 || spec.dense_size() > kMaxDenseSize) {
        return Invalid(spec, absl::StrCat("dense_size must be in 1..", kMaxDenseSize));
      }
      if (spec.sparse_dim() != 0) return Invalid(spec, "a dense table has no sparse_dim");
      break;
    case v1::TABLE_KIND_SPARSE:
      if (spec.sparse_dim() == 0 || spec.sparse_dim() > kMaxSparseDim) {
        return Invalid(spec, absl::StrCat("sparse_dim must be in 1..", kMaxSparseDim));
      }
      if (spec.dense_size() != 0) return Invalid(spec, "a sparse table has no dense_size");
      break;
    default:
      return Invalid(spec, "kind must be DENSE or SPARSE");
  }
  switch (spec.consistency().model()) {
    case v1::ConsistencySpec::MODEL_BSP:
    case v1::ConsistencySpec::MODEL_ASP:
      if (spec.consistency().staleness() != 0) return Invalid(spec, "staleness is for SSP only");
      break;
    case v1::ConsistencySpec::MODEL_SSP:
      break;
    default:
      return Invalid(spec, "consistency model must be BSP, ASP or SSP");
  }
  if (absl::Status optimizer = ValidateOptimizer(spec); !optimizer.ok()) return optimizer;
  return ValidateInitializer(spec);
}

}  // namespace ps
