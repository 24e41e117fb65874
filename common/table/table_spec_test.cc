#include "common/table/table_spec.h"

#include <cmath>
#include <functional>

#include "gtest/gtest.h"

namespace ps {
namespace {

v1::TableSpec DenseSgd() {
  v1::TableSpec spec;
  spec.set_name("mlp.weights");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(1000);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_BSP);
  return spec;
}

v1::TableSpec SparseFtrl() {
  v1::TableSpec spec;
  spec.set_name("ctr_embeddings");
  spec.set_kind(v1::TABLE_KIND_SPARSE);
  spec.set_sparse_dim(16);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_FTRL);
  spec.mutable_optimizer()->set_learning_rate(0.05f);
  spec.mutable_optimizer()->set_l1(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_SSP);
  spec.mutable_consistency()->set_staleness(3);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_NORMAL);
  spec.mutable_initializer()->set_stddev(0.01f);
  return spec;
}

TEST(ValidateTableSpecTest, AcceptsWellFormedSpecs) {
  EXPECT_TRUE(ValidateTableSpec(DenseSgd()).ok());
  EXPECT_TRUE(ValidateTableSpec(SparseFtrl()).ok());
}

struct BadCase {
  const char* what;
  std::function<void(v1::TableSpec&)> corrupt;
};

TEST(ValidateTableSpecTest, RejectsEachBadFieldWithItsName) {
  const std::vector<BadCase> cases = {
      {"name", [](v1::TableSpec& s) { s.set_name("bad name!"); }},
      {"name", [](v1::TableSpec& s) { s.set_name(""); }},
      {"kind", [](v1::TableSpec& s) { s.set_kind(v1::TABLE_KIND_UNSPECIFIED); }},
      {"dense_size", [](v1::TableSpec& s) { s.set_dense_size(0); }},
      {"dense_size", [](v1::TableSpec& s) { s.set_dense_size(kMaxDenseSize + 1); }},
      {"sparse_dim", [](v1::TableSpec& s) { s.set_sparse_dim(4); }},
      {"consistency", [](v1::TableSpec& s) { s.clear_consistency(); }},
      {"staleness", [](v1::TableSpec& s) { s.mutable_consistency()->set_staleness(2); }},
      {"learning_rate", [](v1::TableSpec& s) { s.mutable_optimizer()->set_learning_rate(0); }},
      {"finite", [](v1::TableSpec& s) { s.mutable_optimizer()->set_learning_rate(NAN); }},
      {"optimizer kind", [](v1::TableSpec& s) { s.mutable_optimizer()->clear_kind(); }},
      {"decay_rate", [](v1::TableSpec& s) { s.mutable_optimizer()->set_decay_steps(10); }},
      {"decay_rate",
       [](v1::TableSpec& s) {
         s.mutable_optimizer()->set_decay_steps(10);
         s.mutable_optimizer()->set_decay_rate(1.5f);
       }},
      {"FTRL", [](v1::TableSpec& s) { s.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_FTRL); }},
      {"momentum",
       [](v1::TableSpec& s) {
         s.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_MOMENTUM);
         s.mutable_optimizer()->set_momentum(1.0f);
       }},
      {"beta1",
       [](v1::TableSpec& s) {
         s.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAM);
         s.mutable_optimizer()->set_beta1(1.5f);
       }},
      {"epsilon",
       [](v1::TableSpec& s) { s.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAGRAD); }},
      {"min < max",
       [](v1::TableSpec& s) { s.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_UNIFORM); }},
      {"stddev",
       [](v1::TableSpec& s) {
         s.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_NORMAL);
         s.mutable_initializer()->set_stddev(-1);
       }},
  };
  for (const BadCase& bad : cases) {
    v1::TableSpec spec = DenseSgd();
    bad.corrupt(spec);
    const absl::Status status = ValidateTableSpec(spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.what;
    EXPECT_NE(status.message().find(bad.what), absl::string_view::npos)
        << "message should name '" << bad.what << "': " << status.message();
  }
}

}  // namespace
}  // namespace ps
