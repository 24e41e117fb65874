// Running gnuplot (Debian's gnuplot-nox) on a Plot: psctl writes the data and the script,
// gnuplot draws. Safe for concurrent use (each call works in a directory of its own).
#ifndef PS_TOOLS_PSCTL_GNUPLOT_RUN_H_
#define PS_TOOLS_PSCTL_GNUPLOT_RUN_H_

#include <string>

#include "absl/status/status.h"
#include "tools/psctl/curve_plot.h"

namespace ps::psctl {

// Draws `plot` into the PNG `output`: writes the series' data and the script (curve_plot.h)
// into a fresh directory under `temp_dir`, runs `gnuplot` (a program on $PATH, or a path) on
// the script, and removes the directory.
// Errors: FailedPrecondition when gnuplot is not installed; Internal with gnuplot's messages
// when it fails or leaves no image; the file system's naming the path.
absl::Status DrawWithGnuplot(const Plot& plot, const std::string& output,
                             const std::string& temp_dir, const std::string& gnuplot = "gnuplot");

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_GNUPLOT_RUN_H_
