// What `psctl plot` draws, and the gnuplot script that draws it: two panels sharing the x axis
// (epoch, or seconds since the worker started), loss above and accuracy below, one colour per
// training curve (per metrics file). Pure functions, so tests check the script exactly; gnuplot
// (gnuplot_run.h) does the drawing.
#ifndef PS_TOOLS_PSCTL_CURVE_PLOT_H_
#define PS_TOOLS_PSCTL_CURVE_PLOT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/psctl/training_curves.h"

namespace ps::psctl {

enum class XAxis {
  // Epochs: an epoch's records at its number, progress reports in between.
  kEpoch,
  // Seconds since the worker started.
  kSeconds,
};

struct PlotOptions {
  // Above both panels; "" for "Training curves".
  std::string title;
  XAxis x_axis = XAxis::kEpoch;
};

// One line of a panel.
struct Series {
  // Its entry in the panel's key.
  std::string title;
  // How gnuplot draws it: the clause after "with".
  std::string style;
  // (x, y) in file order.
  std::vector<std::pair<double, double>> points;
};

struct Plot {
  std::string title;
  std::string x_label;
  // Both panels show x from 0 to this.
  double x_max = 1;
  // Per curve: loss at each epoch's end (thick), and at each progress report (dotted).
  std::vector<Series> loss;
  // Per curve: test accuracy (thick) and train accuracy (dashed) at each epoch's end. Empty
  // when no curve has an accuracy (regression models): the plot then has the loss panel only.
  std::vector<Series> accuracy;
};

// The plot of `curves`; series without points are left out.
// Errors: InvalidArgument when no loss is left to draw (on the epoch axis: no epoch finished).
absl::StatusOr<Plot> BuildPlot(const std::vector<TrainingCurve>& curves,
                               const PlotOptions& options);

// The data file gnuplot reads for `series`: "x y" lines.
std::string SeriesData(const Series& series);

// A gnuplot script that draws `plot` into the PNG `output`, with pngcairo where gnuplot has it,
// else its libgd png terminal. `data_files` are the paths of the series' data, loss series then
// accuracy series, in order.
// REQUIRES: data_files.size() == plot.loss.size() + plot.accuracy.size().
std::string GnuplotScript(const Plot& plot, const std::vector<std::string>& data_files,
                          const std::string& output);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_CURVE_PLOT_H_
