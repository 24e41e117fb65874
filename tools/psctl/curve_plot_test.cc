// Reading metrics files into training curves, and the gnuplot script psctl plot writes for them.
#include "tools/psctl/curve_plot.h"

#include "gtest/gtest.h"
#include "tools/psctl/training_curves.h"

namespace ps::psctl {
namespace {

// Two epochs of 100 steps with progress every 50, then a restart of the worker (its clock
// starts again) that finishes epoch 3; "final" and "evaluate" records are not plotted.
constexpr char kMetrics[] =
    R"({"event": "progress", "epoch": 1, "step": 50, "loss": 2.0, "train_accuracy": 0.3, )"
    R"("elapsed_seconds": 1.5})"
    "\n"
    R"({"event": "epoch", "epoch": 1, "step": 100, "loss": 1.5, "train_accuracy": 0.5, )"
    R"("test_accuracy": 0.55, "elapsed_seconds": 3})"
    "\n"
    "\n"
    R"({"event": "progress", "epoch": 2, "step": 150, "loss": null, "elapsed_seconds": 4.5})"
    "\n"
    R"({"event": "epoch", "epoch": 2, "step": 200, "loss": 1.0, "train_accuracy": 0.7, )"
    R"("test_accuracy": 0.72, "elapsed_seconds": 6})"
    "\n"
    R"({"event": "epoch", "epoch": 3, "step": 300, "loss": 0.8, "train_accuracy": 0.75, )"
    R"("test_accuracy": 0.76, "elapsed_seconds": 2})"
    "\n"
    R"({"event": "final", "test_accuracy": 0.76, "elapsed_seconds": 2.5})"
    "\n"
    R"({"event": "evaluate", "model": "m"})"
    "\n";

TEST(TrainingCurvesTest, ReadsEpochAndProgressRecords) {
  const absl::StatusOr<TrainingCurve> curve = ParseTrainingCurve(kMetrics, "/runs/metrics-0.jsonl");
  ASSERT_TRUE(curve.ok()) << curve.status();
  EXPECT_EQ(curve->label, "metrics-0");
  ASSERT_EQ(curve->points.size(), 5u);
  const TrainingPoint& first = curve->points[0];
  EXPECT_FALSE(first.epoch_end);
  EXPECT_EQ(first.epoch, 1);
  EXPECT_EQ(first.step, 50);
  EXPECT_EQ(first.epoch_position, 0.5);  // Step 50 of 100 per epoch.
  EXPECT_EQ(first.loss, 2.0);
  EXPECT_EQ(first.train_accuracy, 0.3);
  EXPECT_EQ(first.test_accuracy, std::nullopt);
  EXPECT_EQ(curve->points[1].epoch_position, 1.0);
  EXPECT_EQ(curve->points[1].test_accuracy, 0.55);
  EXPECT_EQ(curve->points[2].loss, std::nullopt);  // null: not finite.
  // The restarted worker's 2 s follow the 6 s of the first incarnation.
  EXPECT_EQ(curve->points[4].seconds, 8);
  EXPECT_EQ(curve->points[4].epoch_position, 3.0);
}

TEST(TrainingCurvesTest, NamesTheLineThatIsNotJson) {
  const absl::StatusOr<TrainingCurve> curve =
      ParseTrainingCurve("{\"event\": \"epoch\"}\n{truncated", "m.jsonl");
  EXPECT_EQ(curve.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(curve.status().message().find("m.jsonl line 2 is not a JSON object"),
            absl::string_view::npos)
      << curve.status();
}

TEST(TrainingCurvesTest, RefusesAFileWithoutTrainingRecords) {
  const absl::StatusOr<TrainingCurve> curve =
      ParseTrainingCurve("{\"event\": \"evaluate\"}\n", "eval.jsonl");
  EXPECT_EQ(curve.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(curve.status().message().find("eval.jsonl holds no \"epoch\" or \"progress\" record"),
            absl::string_view::npos)
      << curve.status();
}

TEST(TrainingCurvesTest, MissingFileIsNotFoundNamingIt) {
  const absl::StatusOr<TrainingCurve> curve = ReadTrainingCurve("/nonexistent/metrics.jsonl");
  EXPECT_EQ(curve.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(curve.status().message().find("/nonexistent/metrics.jsonl"), absl::string_view::npos);
}

TEST(CurvePlotTest, OneColourPerCurveLossAboveAccuracyBelow) {
  const TrainingCurve curve = *ParseTrainingCurve(kMetrics, "rank0.jsonl");
  const absl::StatusOr<Plot> plot = BuildPlot({curve}, {"", XAxis::kEpoch});
  ASSERT_TRUE(plot.ok()) << plot.status();
  EXPECT_EQ(plot->title, "Training curves");
  EXPECT_EQ(plot->x_max, 3);
  ASSERT_EQ(plot->loss.size(), 2u);
  EXPECT_EQ(plot->loss[0].title, "rank0");
  EXPECT_EQ(plot->loss[0].points,
            (std::vector<std::pair<double, double>>{{1, 1.5}, {2, 1.0}, {3, 0.8}}));
  // The progress report without a loss is left out.
  EXPECT_EQ(plot->loss[1].title, "rank0 (per report)");
  EXPECT_EQ(plot->loss[1].points, (std::vector<std::pair<double, double>>{{0.5, 2.0}}));
  ASSERT_EQ(plot->accuracy.size(), 2u);
  EXPECT_EQ(plot->accuracy[0].title, "rank0 test");
  EXPECT_EQ(plot->accuracy[1].title, "rank0 train");
  EXPECT_EQ(SeriesData(plot->accuracy[0]), "1 0.55\n2 0.72\n3 0.76\n");
}

TEST(CurvePlotTest, SecondsAxisUsesTheContinuedClock) {
  const TrainingCurve curve = *ParseTrainingCurve(kMetrics, "rank0.jsonl");
  const absl::StatusOr<Plot> plot = BuildPlot({curve}, {"run 7", XAxis::kSeconds});
  ASSERT_TRUE(plot.ok()) << plot.status();
  EXPECT_EQ(plot->title, "run 7");
  EXPECT_EQ(plot->x_label, "seconds since the worker started");
  EXPECT_EQ(plot->loss[0].points,
            (std::vector<std::pair<double, double>>{{3, 1.5}, {6, 1.0}, {8, 0.8}}));
  EXPECT_EQ(plot->x_max, 8);
}

TEST(CurvePlotTest, NothingToPlotByEpochBeforeTheFirstEpochEnds) {
  const TrainingCurve curve = *ParseTrainingCurve(
      R"({"event": "progress", "epoch": 1, "step": 5, "loss": 2.0, "elapsed_seconds": 1})", "r");
  EXPECT_EQ(BuildPlot({curve}, {"", XAxis::kEpoch}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(BuildPlot({curve}, {"", XAxis::kSeconds}).ok());
}

TEST(CurvePlotTest, ScriptDrawsTwoPanelsSharingTheXAxis) {
  Plot plot;
  plot.title = "it's a title";
  plot.x_label = "epoch";
  plot.x_max = 2;
  plot.loss = {{"w0", "linespoints lc 1", {{1, 0.5}, {2, 0.25}}},
               {"w1", "linespoints lc 2", {{1, 0.6}}}};
  plot.accuracy = {{"w0 test", "linespoints lc 1", {{1, 0.9}}}};
  EXPECT_EQ(GnuplotScript(plot, {"/t/0.dat", "/t/1.dat", "/t/2.dat"}, "/out/curves.png"),
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "  set terminal pngcairo size 960,720 noenhanced font 'Sans,10'\n"
            "} else {\n"
            "  set terminal png size 960,720 noenhanced\n"
            "}\n"
            "set output '/out/curves.png'\n"
            "set multiplot layout 2,1 title 'it''s a title'\n"
            "set grid\n"
            "set lmargin 10\n"
            "set rmargin 3\n"
            "set xrange [0:2]\n"
            "set ylabel 'loss'\n"
            "set key top right\n"
            "plot '/t/0.dat' using 1:2 with linespoints lc 1 title 'w0', \\\n"
            "     '/t/1.dat' using 1:2 with linespoints lc 2 title 'w1'\n"
            "set ylabel 'accuracy'\n"
            "set xlabel 'epoch'\n"
            "set key bottom right\n"
            "plot '/t/2.dat' using 1:2 with linespoints lc 1 title 'w0 test'\n"
            "unset multiplot\n");
}

TEST(CurvePlotTest, ScriptWithoutAccuracyHasOnePanel) {
  Plot plot;
  plot.title = "t";
  plot.x_label = "epoch";
  plot.loss = {{"w0", "lines", {{1, 0.5}}}};
  const std::string script = GnuplotScript(plot, {"/t/0.dat"}, "/o.png");
  EXPECT_NE(script.find("set multiplot layout 1,1"), std::string::npos) << script;
  EXPECT_EQ(script.find("accuracy"), std::string::npos) << script;
  EXPECT_NE(script.find("set xlabel 'epoch'\nplot"), std::string::npos) << script;
}

}  // namespace
}  // namespace ps::psctl
