#pragma once
// "--name value" flags for the examples' few knobs (the tests shrink their runs with them).
#include <minigrad/tensor.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <string_view>

namespace flags {

// The value after `name` on the command line, or `fallback` when it is absent.
inline std::string get(int argc, char** argv, std::string_view name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

// The same, as a number: int64_t or double as `fallback` is.
template <typename T>
  requires std::is_arithmetic_v<T>
T get(int argc, char** argv, std::string_view name, T fallback) {
  const std::string text = get(argc, argv, name, std::string());
  if (text.empty()) return fallback;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used == 0 || used != text.size())
    throw minigrad::Error(fmt::format("{} {}: not a number", name, text));
  return static_cast<T>(value);
}

}  // namespace flags
