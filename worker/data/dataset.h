// The in-memory training sets that workers read: a dense one (images, one row of features per
// example) and a sparse one (CSR rows of (key, value) pairs with a binary label). Plain values:
// whoever holds one owns all of its memory; not synchronised, so share one only read-only.
#ifndef PS_WORKER_DATA_DATASET_H_
#define PS_WORKER_DATA_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

// Examples with `feature_dim` float features each and an integer class label.
// Invariants: features.size() == num_examples * feature_dim; labels.size() == num_examples;
// every label is in [0, num_classes).
struct DenseDataset {
  int64_t num_examples = 0;
  int feature_dim = 0;
  int num_classes = 0;
  // Row-major, num_examples x feature_dim: example i's features start at i * feature_dim.
  std::vector<float> features;
  std::vector<int32_t> labels;
  // Where the data came from, for logs and reports, e.g. "Fashion-MNIST train (/usr/share/...)".
  // Generated data says so: its description starts with "SYNTHETIC".
  std::string description;
};

// Examples with a variable number of (key, value) features and a binary label, in CSR form.
// Invariants: offsets.size() == num_examples() + 1, offsets.front() == 0, offsets is
// non-decreasing and offsets.back() == keys.size() == values.size(); example i's features are
// keys/values [offsets[i], offsets[i + 1]); labels.size() == num_examples(); every key is
// < key_space. A default-constructed SparseDataset (offsets empty) has no examples.
struct SparseDataset {
  std::vector<uint64_t> keys;
  std::vector<float> values;
  std::vector<size_t> offsets;
  // 0 or 1.
  std::vector<float> labels;
  // One past the largest key the data may use: the size of the embedding table it needs.
  uint64_t key_space = 0;
  // As in DenseDataset: where the data came from; "SYNTHETIC ..." for generated data.
  std::string description;

  int64_t num_examples() const {
    return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1;
  }
};

}  // namespace ps

#endif  // PS_WORKER_DATA_DATASET_H_
