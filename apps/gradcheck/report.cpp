#include "report.h"

#include <algorithm>
#include <set>

namespace minigrad::gradcheck_tool {

namespace {

std::string check_name(const CheckResult& r) { return r.second_order ? r.name + " (2nd order)" : r.name; }

std::string verdict(const CheckResult& r) {
  std::string text = r.report.passed ? "ok" : "FAILED";
  if (r.report.kinks > 0) text += fmt::format(" ({} at kinks)", r.report.kinks);
  if (r.report.fast) text += r.report.fast_passed ? " (fast)" : " (fast failed, slow decided)";
  return text;
}

std::string entry_text(const mg::GradcheckEntry& e) {
  if (e.output_index < 0)
    return fmt::format(
        "{}, projection u^T J v: analytic (ours) {:.10g}, numeric (finite difference) {:.10g}, "
        "abs error {:.3g}",
        e.name, e.analytic, e.numeric, e.abs_error);
  std::string text = fmt::format(
      "{} index {}, output element {}: analytic (ours) {:.10g}, numeric (finite difference) "
      "{:.10g}, abs error {:.3g}, rel error {:.3g}",
      e.name, mg::shape_str(e.index), e.output_index, e.analytic, e.numeric, e.abs_error, e.rel_error);
  if (e.left != e.right) text += fmt::format(" (a kink: one-sided differences {:.6g} and {:.6g})", e.left, e.right);
  return text;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", c);
    else
      out += c;
  }
  return out + "\"";
}

// JSON has no infinity or NaN.
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "null"; }

std::string json_entry(const mg::GradcheckEntry& e) {
  return fmt::format(
      R"({{"tensor": {}, "index": [{}], "output_index": {}, "analytic": {}, "numeric": {}, "abs_error": {}, "rel_error": {}}})",
      json_string(e.name), fmt::join(e.index, ", "), e.output_index, json_number(e.analytic), json_number(e.numeric),
      json_number(e.abs_error), json_number(e.rel_error));
}

}  // namespace

std::string table_header() {
  return fmt::format("{:<7} {:<26} {:<32} {:>11} {:>11}  {}\n", "kind", "name", "case", "max abs err", "max rel err",
                     "result");
}

std::string table_row(const CheckResult& r) {
  const mg::GradcheckReport& rep = r.report;
  std::string text = fmt::format("{:<7} {:<26} {:<32} {:>11.2e} {:>11.2e}  {}\n", r.kind, check_name(r), r.label,
                                 rep.max_abs_error, rep.max_rel_error, verdict(r));
  if (rep.fast && !rep.fast_passed)
    text += fmt::format("    the fast (projection) check failed; the slow check of every entry {}\n",
                        rep.passed ? "passed, so the gradient is right (a projection sums many entries' errors and "
                                     "cannot tell a kink apart)"
                                   : "failed too");
  if (!rep.passed) {
    if (rep.checked == 0) text += "    " + rep.message + "\n";
    text += "    worst entries:\n";
    for (const mg::GradcheckEntry& e : rep.worst) text += "      " + entry_text(e) + "\n";
  }
  if (!rep.kink_entries.empty()) {
    const mg::GradcheckEntry& k = rep.kink_entries.front();
    text += fmt::format(
        "    at a kink, e.g. {} index {}: analytic {:.6g} lies between the one-sided differences "
        "{:.6g} and {:.6g}, so it is accepted\n",
        k.name, mg::shape_str(k.index), k.analytic, k.left, k.right);
  }
  if (r.wrong_node) {
    const WrongNode& w = *r.wrong_node;
    text += fmt::format(
        "    first op whose backward is wrong: '{}', node {} of {} (inputs {}), re-checked at its "
        "actual inputs:\n",
        w.op, w.position, w.nodes, w.inputs);
    for (const mg::GradcheckEntry& e : w.report.worst) text += "      " + entry_text(e) + "\n";
  } else if (!rep.passed && r.kind != "op") {
    text +=
        "    every node's backward agrees with finite differences at its own inputs: the error is in how "
        "they are combined (or too small to see per node)\n";
  }
  return text;
}

std::string summary_line(const std::vector<CheckResult>& results, double seconds) {
  const auto failed =
      std::count_if(results.begin(), results.end(), [](const CheckResult& r) { return !r.report.passed; });
  int64_t kinks = 0, entries = 0;
  std::set<std::string> ops, modules;
  for (const CheckResult& r : results) {
    kinks += r.report.kinks;
    entries += r.report.checked;
    (r.kind == "op" ? ops : modules).insert(r.name);
  }
  std::string failures;
  for (const CheckResult& r : results)
    if (!r.report.passed) failures += fmt::format("{}{} [{}]", failures.empty() ? "" : ", ", check_name(r), r.label);
  return fmt::format(
      "gradcheck: {} checks ({} ops, {} modules/models), {} Jacobian entries, {} at kinks accepted: "
      "{} passed, {} failed{}{} in {:.1f} s\n",
      results.size(), ops.size(), modules.size(), entries, kinks, results.size() - failed, failed,
      failures.empty() ? "" : ": ", failures, seconds);
}

std::string to_json(const std::vector<CheckResult>& results, double seconds) {
  std::vector<std::string> rows;
  int64_t failed = 0;
  for (const CheckResult& r : results) {
    const mg::GradcheckReport& rep = r.report;
    failed += !rep.passed;
    std::vector<std::string> worst;  // only failures: a passing check's "worst" entries are noise
    if (!rep.passed)
      for (const auto& e : rep.worst) worst.push_back(json_entry(e));
    std::string wrong = "null";
    if (r.wrong_node)
      wrong = fmt::format(R"({{"op": {}, "node": {}, "nodes": {}, "inputs": {}, "worst": [{}]}})",
                          json_string(r.wrong_node->op), r.wrong_node->position, r.wrong_node->nodes,
                          json_string(r.wrong_node->inputs),
                          fmt::join(
                              [&] {
                                std::vector<std::string> v;
                                for (const auto& e : r.wrong_node->report.worst) v.push_back(json_entry(e));
                                return v;
                              }(),
                              ", "));
    rows.push_back(fmt::format(
        R"(    {{"kind": {}, "name": {}, "case": {}, "second_order": {}, "passed": {}, "entries": {}, "kinks": {}, "max_abs_error": {}, "max_rel_error": {}, "fast": {}, "fast_passed": {}, "seconds": {:.4f}, "worst": [{}], "first_wrong_op": {}}})",
        json_string(r.kind), json_string(r.name), json_string(r.label), r.second_order, rep.passed, rep.checked,
        rep.kinks, json_number(rep.max_abs_error), json_number(rep.max_rel_error), rep.fast, rep.fast_passed, r.seconds,
        fmt::join(worst, ", "), wrong));
  }
  return fmt::format(
      "{{\n  \"checks\": [\n{}\n  ],\n  \"summary\": {{\"checks\": {}, \"passed\": {}, \"failed\": {}, \"seconds\": "
      "{:.3f}}}\n}}\n",
      fmt::join(rows, ",\n"), results.size(), static_cast<int64_t>(results.size()) - failed, failed, seconds);
}

}  // namespace minigrad::gradcheck_tool
