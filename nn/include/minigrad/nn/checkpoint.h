#pragma once
// Checkpoint files: named tensors plus string metadata, in one versioned little-endian binary.
//
//   "MINIGRAD"  u32 version  u64 file size
//   u32 metadata count, then per entry: str key, str value          (str = u32 length, bytes)
//   u32 tensor count, then per tensor: str name, u8 dtype (0 f32, 1 f64, 2 i64), u8 rank,
//                                      i64 dims[rank], u64 byte size
//   the tensors' bytes, in header order
//   u32 CRC32 (zlib) of everything before it
//
// Files are written to "<path>.tmp.<pid>", fsynced and renamed over <path>, so a crash never
// leaves a half-written checkpoint under the real name. Loading refuses anything but a regular
// file (a FIFO or a device is not read), then checks the magic, the version,
// the size against the file's, the CRC, and every header size against the bytes left, before
// allocating anything; errors name the file and the problem.
#include <minigrad/nn/module.h>

#include <cstdint>
#include <map>
#include <string>

namespace minigrad::nn {

using Metadata = std::map<std::string, std::string>;

inline constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  StateDict tensors;
  Metadata metadata;
};

// Any dtype and rank (0-d scalars included); tensors are saved by value, detached.
void save_tensors(const std::string& path, const StateDict& tensors, const Metadata& metadata = {});
Checkpoint load_tensors(const std::string& path);

// A module's state_dict, with {"format": "minigrad.module", "kind": module.kind()} as metadata.
void save(const Module& module, const std::string& path);
// Loads a file written by save into `module` (strictly: every name and shape must match).
void load(Module& module, const std::string& path);

}  // namespace minigrad::nn
