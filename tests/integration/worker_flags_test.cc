// ps_worker refuses a bad command line at once (exit status 2, the flag named in its log) instead
// of first waiting for a coordinator: every case points --coordinator at a port nobody listens on
// with a register timeout far longer than the test waits.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {
namespace {

struct BadCommandLine {
  std::string name;
  std::vector<std::string> args;
  // Text the log must hold.
  std::string message;
};

class WorkerFlagsTest : public ::testing::TestWithParam<BadCommandLine> {};

TEST_P(WorkerFlagsTest, ExitsWithStatusTwoBeforeJoining) {
  const std::string dir = MakeTempDir("flags");
  std::vector<std::string> args = {"--coordinator=127.0.0.1:1", "--register_timeout_s=600",
                                   "--device=cpu"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> worker =
      DaemonProcess::Start(RunfilePath("worker/ps_worker"), args, dir + "/worker.log");
  ASSERT_TRUE(worker.ok()) << worker.status();
  // Generous for a loaded machine; a worker that dialled the coordinator would wait 600 s.
  EXPECT_EQ((*worker)->Wait(absl::Seconds(20)), std::optional<int>(2)) << (*worker)->ReadLog();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_NE((*worker)->ReadLog().find(GetParam().message), std::string::npos)
      << (*worker)->ReadLog();
}

INSTANTIATE_TEST_SUITE_P(
    BadFlags, WorkerFlagsTest,
    ::testing::Values(
        BadCommandLine{"UnknownModel", {"--model=foo"}, "--model must be mlp or sparse_lr"},
        BadCommandLine{"UnknownMode", {"--mode=serve"}, "--mode must be train"},
        BadCommandLine{"HiddenSizes", {"--hidden=64,abc"}, "--hidden"},
        BadCommandLine{"DatasetForTheModel",
                       {"--model=sparse_lr", "--dataset=fashion-mnist"},
                       "--dataset must be zipf or libsvm"},
        BadCommandLine{"NoEpochs", {"--epochs=0"}, "--epochs must be >= 1"},
        BadCommandLine{"BatchLargerThanTheData",
                       {"--dataset=synthetic-images", "--train_limit=100", "--workers=2"},
                       "smaller than one batch"},
        BadCommandLine{"EvaluateWithoutModel", {"--mode=evaluate"}, "--model_in"},
        BadCommandLine{"EvaluateModelAndCheckpoint",
                       {"--mode=evaluate", "--model_in=model.psmlp", "--checkpoint_in=ckpt"},
                       "exactly one of --model_in"},
        BadCommandLine{"CheckpointInWhileTraining",
                       {"--checkpoint_in=ckpt"},
                       "--checkpoint_in is read by --mode=evaluate only"},
        BadCommandLine{"LogLevel", {"--log_level=loud"}, "unknown log level"}),
    [](const ::testing::TestParamInfo<BadCommandLine>& info) { return info.param.name; });

}  // namespace
}  // namespace ps::testing
