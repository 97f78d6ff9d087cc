// libFuzzer target: checkpoint loading. Each input is loaded as it is, then with its size field and
// CRC32 patched to match, so mutations reach the header parser behind the CRC check, and the
// patched file goes on through fashion_mlp's load_checkpoint (config, architecture, state dict).
#include <cstring>
#include <string>

#include <zlib.h>

#include <minigrad/nn/checkpoint.h>

#include "fuzz_input.h"
#include "train.h"

namespace {

// Layout: "MINIGRAD", u32 version, u64 file size, ..., u32 CRC32 of everything before it.
std::string with_valid_size_and_crc(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() < 24) return bytes;
  const uint64_t file_size = bytes.size();
  std::memcpy(bytes.data() + 12, &file_size, sizeof file_size);
  const uint32_t crc =
      static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, sizeof crc);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    minigrad::nn::load_tensors(fuzz::as_file(data, size));
  } catch (const minigrad::Error&) {
  }
  const std::string patched = with_valid_size_and_crc(data, size);
  const std::string& path = fuzz::as_file(reinterpret_cast<const uint8_t*>(patched.data()), patched.size());
  try {
    const minigrad::nn::Checkpoint ck = minigrad::nn::load_tensors(path);
    for (const auto& [name, t] : ck.tensors) fuzz::require(t.defined(), "every loaded tensor is defined");
  } catch (const minigrad::Error&) {
  }
  try {
    fashion::load_checkpoint(path);
  } catch (const minigrad::Error&) {
  }
  return 0;
}
