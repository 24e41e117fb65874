// The worker command line the integration tests train with: two workers, each an mlp on 1 CPU
// thread over a small synthetic image set, so that a localhost cluster trains quickly on a
// shared 2-core machine. Tests add what they vary (epochs, consistency, logging) after it; a
// later flag wins.
#ifndef PS_TESTS_HARNESS_SMALL_TRAINING_H_
#define PS_TESTS_HARNESS_SMALL_TRAINING_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ps::testing {

// --workers=2 --device=cpu --cpu_threads=1 --model=mlp --dataset=synthetic-images
// --train_limit=EXAMPLES --hidden=HIDDEN --batch_size=32 --epochs=EPOCHS, then `more`.
inline std::vector<std::string> SmallTrainingArgs(int epochs, int examples = 2000, int hidden = 32,
                                                  const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = {"--workers=2",
                                   "--device=cpu",
                                   "--cpu_threads=1",
                                   "--model=mlp",
                                   "--dataset=synthetic-images",
                                   absl::StrCat("--train_limit=", examples),
                                   absl::StrCat("--hidden=", hidden),
                                   "--batch_size=32",
                                   absl::StrCat("--epochs=", epochs)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_SMALL_TRAINING_H_
