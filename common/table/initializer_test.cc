#include "common/table/initializer.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

v1::InitializerSpec Spec(v1::InitializerSpec::Kind kind) {
  v1::InitializerSpec spec;
  spec.set_kind(kind);
  spec.set_seed(17);
  return spec;
}

TEST(InitializerTest, ZerosAndConstant) {
  std::vector<float> values(5, 9.0f);
  Initializer(Spec(v1::InitializerSpec::KIND_ZEROS)).FillDense(0, absl::MakeSpan(values));
  for (float v : values) EXPECT_EQ(v, 0.0f);
  v1::InitializerSpec constant = Spec(v1::InitializerSpec::KIND_CONSTANT);
  constant.set_value(0.25f);
  Initializer(constant).FillRow(99, absl::MakeSpan(values));
  for (float v : values) EXPECT_EQ(v, 0.25f);
}

TEST(InitializerTest, UniformStaysInRangeWithTheRightMean) {
  v1::InitializerSpec spec = Spec(v1::InitializerSpec::KIND_UNIFORM);
  spec.set_min(-2.0f);
  spec.set_max(4.0f);
  std::vector<float> values(100000);
  Initializer(spec).FillDense(0, absl::MakeSpan(values));
  double sum = 0;
  for (float v : values) {
    ASSERT_GE(v, -2.0f);
    ASSERT_LT(v, 4.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / values.size(), 1.0, 0.03);
}

TEST(InitializerTest, NormalHasTheRequestedMeanAndDeviation) {
  v1::InitializerSpec spec = Spec(v1::InitializerSpec::KIND_NORMAL);
  spec.set_mean(0.5f);
  spec.set_stddev(0.1f);
  std::vector<float> values(100000);
  Initializer(spec).FillDense(0, absl::MakeSpan(values));
  double sum = 0, squares = 0;
  for (float v : values) {
    sum += v;
    squares += v * v;
  }
  const double mean = sum / values.size();
  EXPECT_NEAR(mean, 0.5, 0.002);
  EXPECT_NEAR(std::sqrt(squares / values.size() - mean * mean), 0.1, 0.002);
}

TEST(InitializerTest, ValuesDependOnIdentityNotOnOrderAndOnTheSeed) {
  v1::InitializerSpec spec = Spec(v1::InitializerSpec::KIND_NORMAL);
  spec.set_stddev(1.0f);
  const Initializer init(spec);
  std::vector<float> whole(100), tail(40);
  init.FillDense(0, absl::MakeSpan(whole));
  init.FillDense(60, absl::MakeSpan(tail));
  for (int i = 0; i < 40; ++i) EXPECT_EQ(whole[60 + i], tail[i]);

  std::vector<float> row_a(8), row_a_again(8), row_b(8);
  init.FillRow(12345, absl::MakeSpan(row_a));
  init.FillRow(777, absl::MakeSpan(row_b));
  init.FillRow(12345, absl::MakeSpan(row_a_again));
  EXPECT_EQ(row_a, row_a_again);
  EXPECT_NE(row_a, row_b);

  spec.set_seed(18);
  std::vector<float> reseeded(8);
  Initializer(spec).FillRow(12345, absl::MakeSpan(reseeded));
  EXPECT_NE(row_a, reseeded);
}

}  // namespace
}  // namespace ps
