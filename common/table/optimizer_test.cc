#include "common/table/optimizer.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// Three updates of four coordinates; mixed signs and magnitudes.
const std::vector<std::vector<double>> kGradients = {
    {0.5, -1.0, 2.0, 0.0}, {0.25, -0.5, -3.0, 0.1}, {-1.0, 0.75, 1.5, -0.2}};
const std::vector<double> kStart = {1.0, -2.0, 0.5, 0.0};

// Runs the optimizer over kGradients from kStart and returns the values.
std::vector<float> RunUpdates(const v1::OptimizerSpec& spec) {
  auto optimizer = Optimizer::Create(spec);
  EXPECT_TRUE(optimizer.ok()) << optimizer.status();
  std::vector<float> values(kStart.begin(), kStart.end());
  std::vector<std::vector<float>> slots((*optimizer)->num_slots());
  std::vector<float*> slot_pointers;
  for (int s = 0; s < (*optimizer)->num_slots(); ++s) {
    slots[s].assign(values.size(), (*optimizer)->InitialSlotValue(s));
    slot_pointers.push_back(slots[s].data());
  }
  for (size_t step = 0; step < kGradients.size(); ++step) {
    const std::vector<float> gradient(kGradients[step].begin(), kGradients[step].end());
    (*optimizer)->Apply(absl::MakeSpan(values), slot_pointers, gradient, step + 1);
  }
  return values;
}

v1::OptimizerSpec Spec(v1::OptimizerSpec::Kind kind, float lr) {
  v1::OptimizerSpec spec;
  spec.set_kind(kind);
  spec.set_learning_rate(lr);
  return spec;
}

void ExpectNear(const std::vector<float>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5 * std::max(1.0, std::fabs(expected[i])))
        << "coordinate " << i;
  }
}

TEST(OptimizerTest, Sgd) {
  std::vector<double> w = kStart;
  for (const auto& g : kGradients) {
    for (size_t i = 0; i < w.size(); ++i) w[i] -= 0.1 * g[i];
  }
  ExpectNear(RunUpdates(Spec(v1::OptimizerSpec::KIND_SGD, 0.1f)), w);
}

TEST(OptimizerTest, SgdWithExponentialDecay) {
  // Update t uses 0.1 * 0.5^((t - 1) / 2): rates 0.1, 0.1/sqrt(2), 0.05.
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_SGD, 0.1f);
  spec.set_decay_steps(2);
  spec.set_decay_rate(0.5f);
  std::vector<double> w = kStart;
  for (size_t t = 0; t < kGradients.size(); ++t) {
    const double lr = 0.1 * std::pow(0.5, t / 2.0);
    for (size_t i = 0; i < w.size(); ++i) w[i] -= lr * kGradients[t][i];
  }
  ExpectNear(RunUpdates(spec), w);
}

TEST(OptimizerTest, Momentum) {
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_MOMENTUM, 0.1f);
  spec.set_momentum(0.9f);
  std::vector<double> w = kStart, v(4, 0.0);
  for (const auto& g : kGradients) {
    for (size_t i = 0; i < w.size(); ++i) {
      v[i] = 0.9 * v[i] + g[i];
      w[i] -= 0.1 * v[i];
    }
  }
  ExpectNear(RunUpdates(spec), w);
}

TEST(OptimizerTest, Adagrad) {
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_ADAGRAD, 0.5f);
  spec.set_epsilon(1e-7f);
  spec.set_initial_accumulator(0.1f);
  std::vector<double> w = kStart, a(4, 0.1);
  for (const auto& g : kGradients) {
    for (size_t i = 0; i < w.size(); ++i) {
      a[i] += g[i] * g[i];
      w[i] -= 0.5 * g[i] / (std::sqrt(a[i]) + 1e-7);
    }
  }
  ExpectNear(RunUpdates(spec), w);
}

TEST(OptimizerTest, AdamWithBiasCorrection) {
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_ADAM, 0.01f);
  spec.set_beta1(0.9f);
  spec.set_beta2(0.999f);
  spec.set_epsilon(1e-8f);
  std::vector<double> w = kStart, m(4, 0.0), v(4, 0.0);
  for (size_t t = 1; t <= kGradients.size(); ++t) {
    const auto& g = kGradients[t - 1];
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(0.9, t));
      const double v_hat = v[i] / (1 - std::pow(0.999, t));
      w[i] -= 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
  }
  ExpectNear(RunUpdates(spec), w);
}

TEST(OptimizerTest, FtrlProximalWithL1Sparsity) {
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_FTRL, 0.5f);
  spec.set_ftrl_beta(1.0f);
  spec.set_l1(0.6f);
  spec.set_l2(0.1f);
  std::vector<double> w = kStart, z(4, 0.0), n(4, 0.0);
  for (const auto& g : kGradients) {
    for (size_t i = 0; i < w.size(); ++i) {
      const double sigma = (std::sqrt(n[i] + g[i] * g[i]) - std::sqrt(n[i])) / 0.5;
      z[i] += g[i] - sigma * w[i];
      n[i] += g[i] * g[i];
      w[i] = std::fabs(z[i]) <= 0.6
                 ? 0.0
                 : -(z[i] - (z[i] < 0 ? -0.6 : 0.6)) / ((1.0 + std::sqrt(n[i])) / 0.5 + 0.1);
    }
  }
  const std::vector<float> result = RunUpdates(spec);
  ExpectNear(result, w);
  EXPECT_EQ(result[3], 0.0f) << "small accumulated gradients must give an exact zero under L1";
}

TEST(OptimizerTest, SameInputsGiveBitwiseSameOutputs) {
  v1::OptimizerSpec spec = Spec(v1::OptimizerSpec::KIND_ADAM, 0.01f);
  spec.set_beta1(0.9f);
  spec.set_beta2(0.999f);
  spec.set_epsilon(1e-8f);
  const std::vector<float> first = RunUpdates(spec);
  const std::vector<float> second = RunUpdates(spec);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(std::memcmp(&first[i], &second[i], sizeof(float)), 0) << i;
  }
}

TEST(OptimizerTest, UnknownKindIsAnError) {
  EXPECT_EQ(Optimizer::Create(v1::OptimizerSpec()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
