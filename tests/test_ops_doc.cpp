// docs/ops.md and README.md's op table against the gradcheck registry: an op registered but not
// documented, documented but not registered, or whose second-order column disagrees with the
// registry fails here, and the message says which row to add, remove or fix.
//
// An op table is a Markdown table whose header's first cell is "op" or "ops" (a module table:
// "module"); every backticked name in a row's first cell is a registry name, and the row's last
// cell starts with "yes" or "no" (second order). Other tables are not read.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <catch2/catch.hpp>

#include "registry.h"

namespace {

namespace gt = minigrad::gradcheck_tool;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The cells of a table line; "\|" is a pipe inside a cell, as in GitHub's Markdown.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      out.push_back(trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return out;
}

std::vector<std::string> backticked(const std::string& s) {
  std::vector<std::string> names;
  for (std::size_t open = s.find('`'); open != std::string::npos; open = s.find('`', open)) {
    const std::size_t close = s.find('`', open + 1);
    if (close == std::string::npos) break;
    names.push_back(s.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return names;
}

struct Row {
  std::string name;
  int line = 0;
  std::string second_order;  // the row's last cell
};

struct Tables {
  std::vector<Row> ops, modules;
  std::vector<std::string> problems;  // malformed rows
};

Tables read_tables(const std::string& markdown, const std::string& file) {
  Tables t;
  std::istringstream in(markdown);
  std::string line, previous;
  std::vector<Row>* table = nullptr;  // the table being read, if it is an op or module table
  for (int number = 1; std::getline(in, line); ++number, previous = line) {
    line = trim(line);
    if (line.empty() || line[0] != '|') {
      table = nullptr;
      continue;
    }
    if (line.rfind("|---", 0) == 0 || line.rfind("| ---", 0) == 0) {  // the header is the line before
      const std::vector<std::string> header = cells(trim(previous));
      const std::string first = header.empty() ? "" : header.front();
      table = first == "op" || first == "ops" ? &t.ops : first == "module" ? &t.modules : nullptr;
      if (table && header.back() != "second order")
        t.problems.push_back(fmt::format("{}:{}: the table's last column must be \"second order\"", file, number - 1));
      continue;
    }
    if (!table) continue;
    const std::vector<std::string> row = cells(line);
    const std::vector<std::string> names = row.empty() ? std::vector<std::string>{} : backticked(row.front());
    const std::string second = row.size() < 2 ? "" : row.back();
    if (names.empty() || !(second.rfind("yes", 0) == 0 || second.rfind("no", 0) == 0)) {
      t.problems.push_back(
          fmt::format("{}:{}: a row needs backticked names in its first cell and a last cell that "
                      "starts with yes or no: {}",
                      file, number, line));
      continue;
    }
    for (const std::string& name : names) table->push_back({name, number, second});
  }
  return t;
}

// What to fix so that the rows match the registry's entries (names and second order).
template <typename Entry>
void compare(const std::vector<Row>& rows, const std::vector<Entry>& entries, const std::string& kind,
             const std::string& file, const std::string& add_hint, std::vector<std::string>& problems) {
  std::map<std::string, const Entry*> registered;
  for (const Entry& e : entries) registered[e.name] = &e;
  std::map<std::string, int> seen;
  for (const Row& r : rows) {
    auto it = registered.find(r.name);
    if (it == registered.end()) {
      problems.push_back(
          fmt::format("{}:{}: {} '{}' is not in the gradcheck registry: remove it, or register it in "
                      "apps/gradcheck/registry*.cpp",
                      file, r.line, kind, r.name));
      continue;
    }
    if (auto [prev, inserted] = seen.emplace(r.name, r.line); !inserted)
      problems.push_back(fmt::format("{}:{}: {} '{}' is also in the row of line {}: keep one", file, r.line, kind,
                                     r.name, prev->second));
    const bool doc_yes = r.second_order.rfind("yes", 0) == 0;
    const bool reg_yes = gt::has_second_order(*it->second);
    if (doc_yes != reg_yes)
      problems.push_back(fmt::format("{}:{}: {} '{}' says second order \"{}\", the registry says {} (gradcheck --list)",
                                     file, r.line, kind, r.name, r.second_order, reg_yes ? "yes" : "no"));
  }
  for (const Entry& e : entries)
    if (!seen.count(e.name))
      problems.push_back(
          fmt::format("{}: {} '{}' is registered but not documented: add{}", file, kind, e.name,
                      fmt::format(fmt::runtime(add_hint), e.name, gt::has_second_order(e) ? "yes" : "no")));
}

// Every problem of an op document: with_modules also compares its module table.
std::vector<std::string> drift(const std::string& markdown, const std::string& file, const gt::Registry& registry,
                               bool with_modules) {
  Tables t = read_tables(markdown, file);
  compare(t.ops, registry.ops(), "op", file,
          with_modules
              ? " the row \"| `{}` | <copies or shares> | <gradient at kinks and ties> | {} |\" to its area's table"
              : " `{}` to its family's row of the op table (second order: {})",
          t.problems);
  if (with_modules)
    compare(t.modules, registry.modules(), "module", file,
            " the row \"| `{}` | <what it does> | {} |\" to the module table", t.problems);
  return t.problems;
}

std::string read_source(const std::string& relative) {
  const std::string path = std::string(MINIGRAD_SOURCE_DIR) + "/" + relative;
  std::ifstream f(path);
  REQUIRE(f.good());
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string joined(const std::vector<std::string>& problems) { return fmt::format("{}", fmt::join(problems, "\n")); }

}  // namespace

TEST_CASE("docs/ops.md has one row per registered op and module, with its second order", "[ops_doc]") {
  const std::vector<std::string> problems =
      drift(read_source("docs/ops.md"), "docs/ops.md", gt::builtin_registry(), true);
  INFO(joined(problems));
  CHECK(problems.empty());
}

TEST_CASE("README.md's op table names every registered op once, with its second order", "[ops_doc]") {
  const std::vector<std::string> problems = drift(read_source("README.md"), "README.md", gt::builtin_registry(), false);
  INFO(joined(problems));
  CHECK(problems.empty());
}

TEST_CASE("the op documentation check names each drifted row", "[ops_doc]") {
  gt::Registry registry;
  const auto one_case = [](bool second_order) {
    return std::vector<gt::OpCase>{{.label = "(2,)",
                                    .make_inputs = gt::uniform_inputs({{2}}),
                                    .fn = [](const std::vector<minigrad::Tensor>& in) { return in[0].exp(); },
                                    .second_order = second_order}};
  };
  registry.add(gt::OpEntry{.name = "exp", .cases = one_case(true)});
  registry.add(gt::OpEntry{.name = "relu", .cases = one_case(false)});
  registry.add(gt::OpEntry{.name = "sum over dims", .cases = one_case(true)});
  registry.add(gt::OpEntry{.name = "layer_norm", .cases = one_case(true)});
  const std::string doc =
      "| op | copies | kinks | second order |\n"
      "|---|---|---|---|\n"
      "| `exp`, `relu` | new | none | yes |\n"
      "| `sum over dims` (`sum(dims)`) | new | smooth | yes |\n"
      "| `nope` | new | \\|x\\| | no |\n"
      "| `exp` | new | none | yes |\n"
      "\n"
      "| other | second order |\n"
      "|---|---|\n"
      "| `layer_norm` | yes |\n";
  const std::vector<std::string> problems = drift(doc, "ops.md", registry, false);
  INFO(joined(problems));
  using Catch::Matchers::Contains;
  REQUIRE(problems.size() == 5);
  CHECK_THAT(problems[0], Contains("ops.md:3: op 'relu' says second order \"yes\", the registry says no"));
  CHECK_THAT(problems[1], Contains("ops.md:4: op 'sum(dims)' is not in the gradcheck registry"));
  CHECK_THAT(problems[2], Contains("ops.md:5: op 'nope' is not in the gradcheck registry"));
  CHECK_THAT(problems[3], Contains("ops.md:6: op 'exp' is also in the row of line 3"));
  CHECK_THAT(problems[4], Contains("op 'layer_norm' is registered but not documented: add `layer_norm` to its "
                                   "family's row of the op table (second order: yes)"));
}
