#pragma once
// The settings that name one of a few choices. Each is an enum with one table of the names TOML
// files and flags use; the config keeps the names, the trainer reads them as enums. (The
// activation is named by nn::activation_names(): it is an arch entry as much as a setting.)
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fashion {

enum class Init { Kaiming, Xavier, Torch, Normal, Uniform };
enum class OptimizerKind { SGD, Momentum, Nesterov, Adam, AdamW, RMSprop };
enum class Schedule { None, Step, Exponential, Cosine };
enum class Normalize { Scale, Standardize, PerImage };
enum class Monitor { ValAccuracy, ValLoss };
enum class OnNan { Stop, Skip };
enum class Reduction { Mean, Sum };

template <typename E>
struct ChoiceName {
  E value;
  std::string_view name;
};

// Choices<E>::setting is the config field; names lists every value, in the order messages give.
template <typename E>
struct Choices;
template <>
struct Choices<Init> {
  static constexpr std::string_view setting = "init";
  static constexpr ChoiceName<Init> names[] = {{Init::Kaiming, "kaiming"},
                                               {Init::Xavier, "xavier"},
                                               {Init::Torch, "torch"},
                                               {Init::Normal, "normal"},
                                               {Init::Uniform, "uniform"}};
};
template <>
struct Choices<OptimizerKind> {
  static constexpr std::string_view setting = "optimizer";
  static constexpr ChoiceName<OptimizerKind> names[] = {
      {OptimizerKind::SGD, "sgd"},   {OptimizerKind::Momentum, "momentum"}, {OptimizerKind::Nesterov, "nesterov"},
      {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"},       {OptimizerKind::RMSprop, "rmsprop"}};
};
template <>
struct Choices<Schedule> {
  static constexpr std::string_view setting = "schedule";
  static constexpr ChoiceName<Schedule> names[] = {{Schedule::None, "none"},
                                                   {Schedule::Step, "step"},
                                                   {Schedule::Exponential, "exponential"},
                                                   {Schedule::Cosine, "cosine"}};
};
template <>
struct Choices<Normalize> {
  static constexpr std::string_view setting = "normalize";
  static constexpr ChoiceName<Normalize> names[] = {
      {Normalize::Scale, "scale"}, {Normalize::Standardize, "standardize"}, {Normalize::PerImage, "per_image"}};
};
template <>
struct Choices<Monitor> {
  static constexpr std::string_view setting = "monitor";
  static constexpr ChoiceName<Monitor> names[] = {{Monitor::ValAccuracy, "val_accuracy"},
                                                  {Monitor::ValLoss, "val_loss"}};
};
template <>
struct Choices<OnNan> {
  static constexpr std::string_view setting = "on_nan";
  static constexpr ChoiceName<OnNan> names[] = {{OnNan::Stop, "stop"}, {OnNan::Skip, "skip"}};
};

template <>
struct Choices<Reduction> {
  static constexpr std::string_view setting = "reduction";
  static constexpr ChoiceName<Reduction> names[] = {{Reduction::Mean, "mean"}, {Reduction::Sum, "sum"}};
};

template <typename E>
std::vector<std::string_view> choice_names() {
  std::vector<std::string_view> names;
  for (const ChoiceName<E>& c : Choices<E>::names) names.push_back(c.name);
  return names;
}

// "a | b | c", for a field's help.
template <typename E>
std::string choice_list() {
  return fmt::format("{}", fmt::join(choice_names<E>(), " | "));
}

// Throws UsageError: "init 'zeros' must be one of: kaiming, xavier, ...".
[[noreturn]] void throw_not_a_choice(std::string_view setting, const std::string& name,
                                     const std::vector<std::string_view>& names);

// The value called `name`; throws (throw_not_a_choice) for any other name.
template <typename E>
E choice(const std::string& name) {
  for (const ChoiceName<E>& c : Choices<E>::names)
    if (c.name == name) return c.value;
  throw_not_a_choice(Choices<E>::setting, name, choice_names<E>());
}

}  // namespace fashion
