// libFuzzer target: the trainer's TOML config. Any text either parses (and then survives
// validate and a round trip through to_toml unchanged) or throws minigrad::Error. The first line,
// split at '=', also goes through set_field, the path of --flag values and sweep grids.
#include <string>

#include "config.h"
#include "fuzz_input.h"

#include <minigrad/tensor.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const fashion::TrainConfig config = fashion::from_toml(text, "fuzz.toml");
    const std::string toml = fashion::to_toml(config);
    fuzz::require(fashion::to_toml(fashion::from_toml(toml, "round trip")) == toml, "to_toml/from_toml round trip");
    fashion::validate(config);
  } catch (const minigrad::Error&) {
  }
  const std::string first_line = text.substr(0, text.find('\n'));
  if (const auto eq = first_line.find('='); eq != std::string::npos) {
    fashion::TrainConfig config;
    try {
      fashion::set_field(config, first_line.substr(0, eq), first_line.substr(eq + 1));
    } catch (const minigrad::Error&) {
    }
  }
  return 0;
}
