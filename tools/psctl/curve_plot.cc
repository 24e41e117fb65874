#include "tools/psctl/curve_plot.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace ps::psctl {
namespace {

// A gnuplot single-quoted string: nothing in it is special but the quote, written twice.
std::string Quoted(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

// Where `point` goes on the x axis, if anywhere.
std::optional<double> XOf(const TrainingPoint& point, XAxis axis) {
  return axis == XAxis::kEpoch ? point.epoch_position : std::optional<double>(point.seconds);
}

// The series of `curve` for one quantity: `value` of the points `take` selects that have one.
template <typename Take, typename Value>
Series SeriesOf(const TrainingCurve& curve, XAxis axis, std::string title, std::string style,
                Take take, Value value) {
  Series series{std::move(title), std::move(style), {}};
  for (const TrainingPoint& point : curve.points) {
    const std::optional<double> x = XOf(point, axis);
    const std::optional<double> y = value(point);
    if (take(point) && x.has_value() && y.has_value()) series.points.emplace_back(*x, *y);
  }
  return series;
}

void AddIfDrawn(Series series, std::vector<Series>& panel) {
  if (!series.points.empty()) panel.push_back(std::move(series));
}

std::string PlotCommand(const std::vector<Series>& panel,
                        std::vector<std::string>::const_iterator files) {
  std::vector<std::string> lines;
  for (const Series& series : panel) {
    lines.push_back(absl::StrCat(Quoted(*files++), " using 1:2 with ", series.style, " title ",
                                 Quoted(series.title)));
  }
  return absl::StrCat("plot ", absl::StrJoin(lines, ", \\\n     "), "\n");
}

}  // namespace

absl::StatusOr<Plot> BuildPlot(const std::vector<TrainingCurve>& curves,
                               const PlotOptions& options) {
  Plot plot;
  plot.title = options.title.empty() ? "Training curves" : options.title;
  plot.x_label = options.x_axis == XAxis::kEpoch ? "epoch" : "seconds since the worker started";
  const auto epoch_end = [](const TrainingPoint& point) { return point.epoch_end; };
  const auto progress = [](const TrainingPoint& point) { return !point.epoch_end; };
  const auto loss = [](const TrainingPoint& point) { return point.loss; };
  const auto train = [](const TrainingPoint& point) { return point.train_accuracy; };
  const auto test = [](const TrainingPoint& point) { return point.test_accuracy; };
  for (size_t i = 0; i < curves.size(); ++i) {
    // gnuplot's line types 1, 2, ... are distinct colours: one per curve, in every panel.
    const std::string colour = absl::StrCat("lc ", i + 1);
    const TrainingCurve& curve = curves[i];
    const XAxis axis = options.x_axis;
    AddIfDrawn(SeriesOf(curve, axis, curve.label,
                        absl::StrCat("linespoints ", colour, " lw 2 pt 7 ps 0.6"), epoch_end, loss),
               plot.loss);
    AddIfDrawn(SeriesOf(curve, axis, absl::StrCat(curve.label, " (per report)"),
                        absl::StrCat("lines ", colour, " lw 1 dt 3"), progress, loss),
               plot.loss);
    AddIfDrawn(SeriesOf(curve, axis, absl::StrCat(curve.label, " test"),
                        absl::StrCat("linespoints ", colour, " lw 2 pt 7 ps 0.6"), epoch_end, test),
               plot.accuracy);
    AddIfDrawn(
        SeriesOf(curve, axis, absl::StrCat(curve.label, " train"),
                 absl::StrCat("linespoints ", colour, " lw 1 dt 2 pt 6 ps 0.6"), epoch_end, train),
        plot.accuracy);
  }
  if (plot.loss.empty()) {
    return absl::InvalidArgumentError(
        options.x_axis == XAxis::kEpoch
            ? "nothing to plot by epoch: no epoch has finished yet (--x=seconds plots the "
              "progress reports)"
            : "nothing to plot: no record has a loss");
  }
  for (const std::vector<Series>* panel : {&plot.loss, &plot.accuracy}) {
    for (const Series& series : *panel) {
      for (const auto& [x, y] : series.points) plot.x_max = std::max(plot.x_max, x);
    }
  }
  return plot;
}

std::string SeriesData(const Series& series) {
  std::string data;
  for (const auto& [x, y] : series.points) absl::StrAppendFormat(&data, "%.6g %.6g\n", x, y);
  return data;
}

std::string GnuplotScript(const Plot& plot, const std::vector<std::string>& data_files,
                          const std::string& output) {
  // Debian's gnuplot-nox has pngcairo (antialiased); other builds may only have libgd's png.
  // noenhanced: file names' underscores are not subscripts.
  std::string script = absl::StrCat(
      "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
      "  set terminal pngcairo size 960,720 noenhanced font 'Sans,10'\n"
      "} else {\n"
      "  set terminal png size 960,720 noenhanced\n"
      "}\n"
      "set output ",
      Quoted(output), "\n");
  const int panels = plot.accuracy.empty() ? 1 : 2;
  // Equal margins and one x range keep the panels' x axes aligned: they share it.
  absl::StrAppend(&script, "set multiplot layout ", panels, ",1 title ", Quoted(plot.title), "\n",
                  "set grid\nset lmargin 10\nset rmargin 3\n",
                  absl::StrFormat("set xrange [0:%.6g]\n", plot.x_max), "set ylabel 'loss'\n",
                  "set key top right\n");
  if (panels == 1) absl::StrAppend(&script, "set xlabel ", Quoted(plot.x_label), "\n");
  absl::StrAppend(&script, PlotCommand(plot.loss, data_files.begin()));
  if (panels == 2) {
    absl::StrAppend(&script, "set ylabel 'accuracy'\nset xlabel ", Quoted(plot.x_label), "\n",
                    "set key bottom right\n",
                    PlotCommand(plot.accuracy, data_files.begin() + plot.loss.size()));
  }
  absl::StrAppend(&script, "unset multiplot\n");
  return script;
}

}  // namespace ps::psctl
