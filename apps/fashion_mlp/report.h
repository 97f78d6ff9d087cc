#pragma once
// report.html: the run on one self-contained page (config, per-epoch table, figures embedded as
// data URIs, per-class test metrics); no network, and one inline script that logs a console
// error for a figure that fails to load (so a browser test sees it).
#include <string>
#include <vector>

#include "config.h"
#include "figures.h"
#include "train.h"

namespace fashion {

std::string report_html(const TrainConfig& config, const TrainResult& result, const std::vector<Figure>& figures);
// Writes run_dir/report.html atomically; a failure is reported on stderr, never thrown.
bool write_report(const std::string& run_dir, const TrainConfig& config, const TrainResult& result,
                  const std::vector<Figure>& figures);

std::string base64(std::string_view bytes);

}  // namespace fashion
