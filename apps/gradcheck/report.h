#pragma once
// What `gradcheck` prints: a table row per check, the worst entries of a failure, a summary, JSON.
#include <string>
#include <vector>

#include "checks.h"

namespace minigrad::gradcheck_tool {

std::string table_header();
// One line, plus indented details when the check failed, met kinks, or fell back from fast mode.
std::string table_row(const CheckResult& result);
std::string summary_line(const std::vector<CheckResult>& results, double seconds);
std::string to_json(const std::vector<CheckResult>& results, double seconds);

}  // namespace minigrad::gradcheck_tool
