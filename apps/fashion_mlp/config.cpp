#include "config.h"

#include "arch.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <minigrad/io.h>
#include <minigrad/tensor.h>

namespace fashion {

using minigrad::Error;

namespace {

template <typename T>
constexpr std::string_view type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "an integer";
  else if constexpr (std::is_same_v<T, double>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "a list of strings";
  else
    return "a list of integers";
}

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

template <typename T>
bool read_node(const toml::node& node, T& field) {
  if constexpr (is_vector<T>::value) {
    const toml::array* array = node.as_array();
    if (!array) return false;
    T values;
    for (const toml::node& element : *array) {
      const auto v = element.value_exact<typename T::value_type>();
      if (!v) return false;
      values.push_back(*v);
    }
    field = values;
    return true;
  } else if constexpr (std::is_same_v<T, double>) {
    const auto v = node.value<double>();  // accepts integers too: lr = 1 is a number
    if (!v || node.is_boolean()) return false;
    field = *v;
    return true;
  } else {
    const auto v = node.value_exact<T>();
    if (!v) return false;
    field = *v;
    return true;
  }
}

void read_table(const toml::table& table, const std::string& origin, TrainConfig& config) {
  std::set<std::string, std::less<>> known;
  for_each_field(config, [&](std::string_view name, auto& field, std::string_view) {
    known.emplace(name);
    const toml::node* node = table.get(name);
    if (!node) return;
    if (!read_node(*node, field))
      throw UsageError(fmt::format("{}:{}: '{}' must be {}", origin, node->source().begin.line, name,
                                   type_name<std::remove_cvref_t<decltype(field)>>()));
  });
  for (const auto& [key, node] : table)
    if (!known.contains(key.str()))
      throw UsageError(fmt::format("{}:{}: unknown key '{}'", origin, node.source().begin.line, key.str()));
}

// value as a TOML string literal, quoted and escaped.
std::string toml_string(const std::string& value) {
  std::ostringstream out;
  out << toml::value<std::string>(value);
  return out.str();
}

std::vector<std::string> quoted(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) out.push_back(fmt::format("'{}'", v));
  return out;
}

}  // namespace

void load_config_file(const std::string& path, TrainConfig& config) {
  if (!std::filesystem::exists(path)) throw UsageError(fmt::format("{}: config file not found", path));
  std::string text;
  try {
    text = minigrad::read_file_limited(path, kMaxConfigBytes, "a TOML config file");
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  try {
    read_table(toml::parse(text, path), path, config);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("{}:{}: {}", path, e.source().begin.line, e.description()));
  }
}

TrainConfig from_toml(const std::string& text, const std::string& origin) {
  TrainConfig config;
  try {
    read_table(toml::parse(text, origin), origin, config);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()));
  }
  return config;
}

std::string to_toml(const TrainConfig& config) {
  toml::table table;
  for_each_field(config, [&](std::string_view name, const auto& field, std::string_view) {
    using T = std::remove_cvref_t<decltype(field)>;
    if constexpr (is_vector<T>::value) {
      toml::array array;
      for (const auto& v : field) array.push_back(v);
      table.insert(name, array);
    } else {
      table.insert(name, field);
    }
  });
  // Strings as basic strings, escaped: toml++ would write "\n" as a multi-line string (whose first
  // newline TOML drops) and "\r\n" as a literal string (where control characters are invalid).
  constexpr auto flags = toml::toml_formatter::default_flags & ~toml::format_flags::allow_multi_line_strings &
                         ~toml::format_flags::allow_literal_strings;
  toml::toml_formatter formatter(table, flags);
  std::ostringstream out;
  out << formatter;
  return out.str();
}

void copy_field(TrainConfig& to, const TrainConfig& from, std::string_view name) {
  for_each_field(to, [&](std::string_view to_name, auto& field, std::string_view) {
    if (to_name != name) return;
    for_each_field(from, [&](std::string_view from_name, const auto& source, std::string_view) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(source)>, std::remove_cvref_t<decltype(field)>>)
        if (from_name == name) field = source;
    });
  });
}

std::vector<std::string> changed_fields(const TrainConfig& a, const TrainConfig& b) {
  std::vector<std::string> changed;
  for_each_field(a, [&](std::string_view name, const auto& field, std::string_view) {
    for_each_field(b, [&](std::string_view other_name, const auto& other, std::string_view) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, std::remove_cvref_t<decltype(other)>>)
        if (other_name == name && !(field == other)) changed.emplace_back(name);
    });
  });
  return changed;
}

std::string field_text(const TrainConfig& config, std::string_view name) {
  std::string text;
  for_each_field(config, [&](std::string_view field_name, const auto& field, std::string_view) {
    if (field_name != name) return;
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, std::vector<int64_t>>)
      text = fmt::format("[{}]", fmt::join(field, ", "));
    else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, std::vector<std::string>>)
      text = fmt::format("[{}]", fmt::join(quoted(field), ", "));
    else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, std::string>)
      text = fmt::format("'{}'", field);
    else
      text = fmt::format("{}", field);  // shortest form that reads back exactly: 0.1, not 0.10000000000000001
  });
  return text;
}

void set_field(TrainConfig& config, const std::string& name, const std::string& value) {
  // Reuse the TOML reader so "3e-4", "true" and "[512, 256]" mean what they mean in a file.
  std::optional<std::string> literal;
  for_each_field(config, [&](std::string_view field_name, const auto& field, std::string_view) {
    if (field_name != name) return;
    using T = std::remove_cvref_t<decltype(field)>;
    literal = value;
    if constexpr (std::is_same_v<T, std::string>) {
      literal = toml_string(value);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      // "conv 32 3 pad 1,bn,relu": one entry per comma, as the --arch flag splits them.
      std::vector<std::string> entries;
      std::istringstream in(value);
      for (std::string entry; std::getline(in, entry, ',');) entries.push_back(toml_string(entry));
      literal = fmt::format("[{}]", fmt::join(entries, ", "));
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      std::replace(literal->begin(), literal->end(), 'x', ',');  // "512x256" as in sweep grids
      literal = "[" + *literal + "]";
    }
  });
  if (!literal) throw UsageError(fmt::format("unknown setting '{}'", name));
  copy_field(config, from_toml(fmt::format("{} = {}", name, *literal), fmt::format("--{}", name)), name);
}

void throw_not_a_choice(std::string_view setting, const std::string& name, const std::vector<std::string_view>& names) {
  throw UsageError(
      fmt::format("{} '{}' must be one of: {}", setting, minigrad::printable(name), fmt::join(names, ", ")));
}

void validate(const TrainConfig& c) {
  auto require = [](bool ok, std::string_view name, const auto& value, std::string_view range) {
    if (!ok) throw UsageError(fmt::format("{} {} must be {}", name, value, range));
  };
  // NaN fails every comparison, so each of these refuses it too.
  auto at_least = [&](std::string_view name, double v, double lo) {
    require(v >= lo && std::isfinite(v), name, v, fmt::format("a finite number >= {}", lo));
  };
  auto fraction = [&](std::string_view name, double v, bool one_allowed) {
    require(v >= 0 && (one_allowed ? v <= 1 : v < 1), name, v, one_allowed ? "in [0, 1]" : "in [0, 1)");
  };
  auto count = [&](std::string_view name, int64_t v, int64_t lo, std::string_view meaning = "") {
    require(v >= lo, name, v, fmt::format(">= {}{}", lo, meaning));
  };
  if (!minigrad::nn::make_activation(c.activation))
    throw_not_a_choice("activation", c.activation, minigrad::nn::activation_names());
  choice<Init>(c.init);
  choice<OptimizerKind>(c.optimizer);
  choice<Schedule>(c.schedule);
  choice<Normalize>(c.normalize);
  choice<Monitor>(c.monitor);
  choice<Reduction>(c.reduction);
  choice<OnNan>(c.on_nan);
  for (int64_t h : c.hidden) count("hidden size", h, 1);
  fraction("dropout", c.dropout, false);
  fraction("input_dropout", c.input_dropout, false);
  // A hidden layer this wide is too large on its first layer's weights alone, and too wide to plan.
  const auto too_wide = [](int64_t h) { return h > kMaxParameters / kImagePixels; };
  if ((c.arch.empty() && std::any_of(c.hidden.begin(), c.hidden.end(), too_wide)) ||
      parameter_count(c) > kMaxParameters)  // plans the layers: a bad arch entry throws here
    throw UsageError(c.arch.empty() ? fmt::format("hidden {} makes a model of more than {} parameters",
                                                  fmt::join(c.hidden, ","), kMaxParameters)
                                    : fmt::format("arch makes a model of more than {} parameters", kMaxParameters));
  require(c.init_scale > 0 && std::isfinite(c.init_scale), "init_scale", c.init_scale, "a finite number > 0");
  require(c.lr > 0 && c.lr <= kMaxLr, "lr", c.lr, fmt::format("in (0, {}]", kMaxLr));
  fraction("momentum", c.momentum, false);
  fraction("beta1", c.beta1, false);
  fraction("beta2", c.beta2, false);
  at_least("weight_decay", c.weight_decay, 0);
  at_least("l1", c.l1, 0);
  at_least("l2", c.l2, 0);
  fraction("label_smoothing", c.label_smoothing, true);
  count("step_size", c.step_size, 1);
  require(c.gamma > 0 && std::isfinite(c.gamma), "gamma", c.gamma, "a finite number > 0");
  count("warmup_epochs", c.warmup_epochs, 0);
  at_least("clip_norm", c.clip_norm, 0);
  at_least("clip_value", c.clip_value, 0);
  count("batch_size", c.batch_size, 0, " (0 = full batch)");
  count("epochs", c.epochs, 1);
  fraction("val_fraction", c.val_fraction, false);
  count("train_limit", c.train_limit, 0, " (0 = all)");
  count("test_limit", c.test_limit, 0, " (0 = all)");
  if (c.train_limit > 0) {  // the split train_val_split makes: llround(val_fraction * n) for validation
    const double held_out = std::round(c.val_fraction * static_cast<double>(c.train_limit));
    if (held_out >= static_cast<double>(c.train_limit))
      throw UsageError(
          fmt::format("train_limit {} with val_fraction {} leaves no training images ({} held out for "
                      "validation)",
                      c.train_limit, c.val_fraction, held_out));
  }
  require(c.augment_shift >= 0 && c.augment_shift < kImageSide / 2, "augment_shift", c.augment_shift,
          fmt::format("in [0, {}]", kImageSide / 2 - 1));
  fraction("augment_erase", c.augment_erase, true);
  count("patience", c.patience, 0, " (0 = off)");
  count("threads", c.threads, 0, " (0 = all cores)");
  count("log_every", c.log_every, 0, " (0 = off)");
}

namespace {

ArchSize model_size(const TrainConfig& c) { return arch_size(plan_arch(c.arch.empty() ? mlp_arch(c) : c.arch)); }

}  // namespace

int64_t parameter_count(const TrainConfig& c) { return model_size(c).parameters; }

int64_t state_value_count(const TrainConfig& c) {
  const ArchSize size = model_size(c);
  return size.parameters > INT64_MAX - size.buffer_values ? INT64_MAX : size.parameters + size.buffer_values;
}

std::string recipe_path(const std::string& name_or_path) {
  if (std::filesystem::is_regular_file(name_or_path)) return name_or_path;
  const std::string bundled = fmt::format("{}/{}.toml", FASHION_RECIPES_DIR, name_or_path);
  if (std::filesystem::is_regular_file(bundled)) return bundled;
  throw UsageError(fmt::format("recipe '{}' not found (neither a file nor one of: {})", name_or_path,
                               fmt::join(recipe_names(), ", ")));
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  if (std::filesystem::is_directory(FASHION_RECIPES_DIR))
    for (const auto& entry : std::filesystem::directory_iterator(FASHION_RECIPES_DIR))
      if (entry.path().extension() == ".toml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace fashion
