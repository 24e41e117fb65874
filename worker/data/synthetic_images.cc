#include "worker/data/synthetic_images.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/data/seeded_random.h"

namespace ps {
namespace {

constexpr int kSide = kSyntheticImageSide;
constexpr int kPixels = kSide * kSide;
constexpr int kSharedStrokes = 2;
constexpr int kVariantStrokes = 2;
constexpr int kVariantsPerClass = 2;
constexpr int kMaxShift = 2;
constexpr double kMinContrast = 0.6;
constexpr double kMaxBlend = 0.45;
constexpr double kNoiseStddev = 0.25;

// Adds an elongated Gaussian stroke at a random place and angle to `image`.
void AddStroke(SeededRandom& random, std::vector<double>& image) {
  const double center_x = random.NextUniform(7, 21);
  const double center_y = random.NextUniform(7, 21);
  const double angle = random.NextUniform(0, 3.14159265358979323846);
  const double length = random.NextUniform(2.5, 7);
  const double width = random.NextUniform(1.0, 2.0);
  const double amplitude = random.NextUniform(0.6, 1.0);
  const double along_x = std::cos(angle), along_y = std::sin(angle);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const double dx = x - center_x, dy = y - center_y;
      const double along = (dx * along_x + dy * along_y) / length;
      const double across = (-dx * along_y + dy * along_x) / width;
      image[y * kSide + x] += amplitude * std::exp(-0.5 * (along * along + across * across));
    }
  }
}

// The prototypes of one class: strokes shared by all its variants plus strokes of each variant
// alone, clipped to [0, 1], so they look like blurred shapes rather than noise and neighbouring
// pixels correlate as in real images. Several variants per class (like the shoe styles within
// one Fashion-MNIST class) make a class a union of clusters, which no single linear template fits.
std::vector<std::vector<float>> MakeClassPrototypes(SeededRandom& random) {
  std::vector<double> shared(kPixels, 0.0);
  for (int stroke = 0; stroke < kSharedStrokes; ++stroke) AddStroke(random, shared);
  std::vector<std::vector<float>> prototypes;
  for (int variant = 0; variant < kVariantsPerClass; ++variant) {
    std::vector<double> image = shared;
    for (int stroke = 0; stroke < kVariantStrokes; ++stroke) AddStroke(random, image);
    std::vector<float> prototype(kPixels);
    for (int i = 0; i < kPixels; ++i) prototype[i] = static_cast<float>(std::min(image[i], 1.0));
    prototypes.push_back(std::move(prototype));
  }
  return prototypes;
}

// Pixel (x, y) of `image` moved by (shift_x, shift_y); zero where the shift uncovers the border.
float Shifted(const std::vector<float>& image, int x, int y, int shift_x, int shift_y) {
  const int source_x = x - shift_x, source_y = y - shift_y;
  if (source_x < 0 || source_x >= kSide || source_y < 0 || source_y >= kSide) return 0.0f;
  return image[source_y * kSide + source_x];
}

}  // namespace

DenseDataset MakeSyntheticImages(int64_t num_examples, uint64_t prototype_seed,
                                 uint64_t example_seed) {
  SeededRandom prototype_random(prototype_seed);
  // prototypes[c][v]: variant v of class c.
  std::vector<std::vector<std::vector<float>>> prototypes;
  for (int c = 0; c < kSyntheticImageClasses; ++c) {
    prototypes.push_back(MakeClassPrototypes(prototype_random));
  }

  DenseDataset dataset;
  dataset.num_examples = std::max<int64_t>(num_examples, 0);
  dataset.feature_dim = kPixels;
  dataset.num_classes = kSyntheticImageClasses;
  dataset.features.resize(static_cast<size_t>(dataset.num_examples) * kPixels);
  dataset.labels.resize(static_cast<size_t>(dataset.num_examples));
  // Streams apart from the prototypes' even when the two seeds are equal.
  SeededRandom random(Mix64(example_seed) ^ 0x5eed5eed5eed5eedULL);
  for (int64_t i = 0; i < dataset.num_examples; ++i) {
    const int label = static_cast<int>(random.NextBelow(kSyntheticImageClasses));
    const int other = static_cast<int>((label + 1 + random.NextBelow(kSyntheticImageClasses - 1)) %
                                       kSyntheticImageClasses);
    const std::vector<float>& own = prototypes[label][random.NextBelow(kVariantsPerClass)];
    const std::vector<float>& blended = prototypes[other][random.NextBelow(kVariantsPerClass)];
    const int shift_x = static_cast<int>(random.NextBelow(2 * kMaxShift + 1)) - kMaxShift;
    const int shift_y = static_cast<int>(random.NextBelow(2 * kMaxShift + 1)) - kMaxShift;
    const double contrast = random.NextUniform(kMinContrast, 1.0);
    const double blend = random.NextUniform(0, kMaxBlend);
    float* row = dataset.features.data() + static_cast<size_t>(i) * kPixels;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        const double clean = contrast * ((1 - blend) * Shifted(own, x, y, shift_x, shift_y) +
                                         blend * Shifted(blended, x, y, shift_x, shift_y));
        const double noisy = clean + kNoiseStddev * random.NextGaussian();
        row[y * kSide + x] = static_cast<float>(std::clamp(noisy, 0.0, 1.0));
      }
    }
    dataset.labels[static_cast<size_t>(i)] = label;
  }
  dataset.description = absl::StrCat("SYNTHETIC Fashion-MNIST stand-in: ", dataset.num_examples,
                                     " ", kSide, "x", kSide, " images of ", kSyntheticImageClasses,
                                     " classes (prototype_seed=", prototype_seed,
                                     ", example_seed=", example_seed, ")");
  return dataset;
}

}  // namespace ps
