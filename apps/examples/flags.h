#pragma once
// "--name value" flags for the examples' few knobs (the tests shrink their runs with them). A flag
// that is not known, lacks a value or is not a number ends the program with status 2 (a usage
// error), naming it and the flags there are.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace flags {

[[noreturn]] inline void usage_error(const std::string& message) {
  fmt::print(stderr, "{}\n", message);
  std::exit(2);
}

// Checks that argv holds only "--name value" pairs with names from `known`.
inline void expect(int argc, char** argv, std::initializer_list<std::string_view> known) {
  for (int i = 1; i < argc; i += 2) {
    const std::string_view name = argv[i];
    if (std::find(known.begin(), known.end(), name) == known.end())
      usage_error(fmt::format("unknown flag '{}'; the flags are {}", name, fmt::join(known, ", ")));
    if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", name));
  }
}

// The value after `name` on the command line, or `fallback` when it is absent.
inline std::string get(int argc, char** argv, std::string_view name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

// The same, as a number: int64_t or double as `fallback` is.
template <typename T>
requires std::is_arithmetic_v<T> T get(int argc, char** argv, std::string_view name, T fallback) {
  const std::string text = get(argc, argv, name, std::string());
  if (text.empty()) return fallback;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used == 0 || used != text.size()) usage_error(fmt::format("{} {}: not a number", name, text));
  return static_cast<T>(value);
}

}  // namespace flags
