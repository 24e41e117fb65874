#include "worker/training/dense_parameters.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/table/initializer.h"
#include "common/table/table_spec.h"
#include "gtest/gtest.h"
#include "worker/compute/cpu_backend.h"
#include "worker/training/table_specs.h"

namespace ps {
namespace {

TrainingChoices Choices() {
  TrainingChoices choices;
  choices.table_name = "mlp";
  choices.optimizer = "sgd";
  return choices;
}

TEST(LocalDenseParametersTest, StartsFromTheValuesAServerWouldCreate) {
  const std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  absl::StatusOr<v1::TableSpec> spec = DenseTableSpec(Choices(), 16, 0.1f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::unique_ptr<LocalDenseParameters>> parameters =
      LocalDenseParameters::Create(*spec, backend.get());
  ASSERT_TRUE(parameters.ok()) << parameters.status();

  std::vector<float> pulled(16);
  ASSERT_TRUE((*parameters)->Pull(absl::MakeSpan(pulled)).ok());
  std::vector<float> expected(16);
  Initializer(spec->initializer()).FillDense(0, absl::MakeSpan(expected));
  EXPECT_EQ(pulled, expected);
}

// Standalone training builds its spec with DenseTableSpec like a cluster worker, and the local
// parameters refuse what the coordinator's CreateTable refuses, with the same reason.
TEST(LocalDenseParametersTest, RefusesEverySpecTheCoordinatorRefuses) {
  struct Case {
    std::string description;
    std::function<void(TrainingChoices&, float&)> mutate;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"zero init scale", [](TrainingChoices&, float& scale) { scale = 0; },
       "uniform initializer needs min < max"},
      {"non-finite init scale", [](TrainingChoices&, float& scale) { scale = std::nanf(""); },
       "initializer parameters must be finite"},
      {"bad table name", [](TrainingChoices& c, float&) { c.table_name = "my table"; },
       "must be 1-128 characters"},
  };
  const std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    TrainingChoices choices = Choices();
    float init_scale = 0.1f;
    c.mutate(choices, init_scale);
    absl::StatusOr<v1::TableSpec> spec = DenseTableSpec(choices, 16, init_scale);
    ASSERT_TRUE(spec.ok()) << spec.status();
    const absl::Status coordinator = ValidateTableSpec(*spec);
    ASSERT_EQ(coordinator.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(coordinator.message().find(c.reason), absl::string_view::npos)
        << coordinator.message();

    absl::StatusOr<std::unique_ptr<LocalDenseParameters>> parameters =
        LocalDenseParameters::Create(*spec, backend.get());
    ASSERT_FALSE(parameters.ok());
    EXPECT_EQ(parameters.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parameters.status().message().find(coordinator.message()), absl::string_view::npos)
        << parameters.status().message();
  }
}

TEST(LocalDenseParametersTest, RefusesAValidSparseSpec) {
  const std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  TrainingChoices choices = Choices();
  choices.optimizer = "ftrl";
  absl::StatusOr<v1::TableSpec> spec = SparseTableSpec(choices, 4);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(ValidateTableSpec(*spec).ok());
  EXPECT_EQ(LocalDenseParameters::Create(*spec, backend.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
