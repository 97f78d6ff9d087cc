// libFuzzer target: read_idx on arbitrary bytes (raw or gzipped) must return a consistent array
// or throw DataError.
#include <minigrad/data/idx.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const minigrad::data::IdxArray a = minigrad::data::read_idx(fuzz::as_file(data, size));
    int64_t n = 1;
    for (int64_t d : a.dims) n *= d;
    fuzz::require(!a.dims.empty() && a.dims.size() <= 4, "1 to 4 dimensions");
    fuzz::require(static_cast<int64_t>(a.bytes.size()) == n, "payload size == product of dimensions");
  } catch (const minigrad::data::DataError&) {
  }
  return 0;
}
