// minigrad/data/idx.h - reader for IDX files (the format of MNIST and Fashion-MNIST).
//
// An IDX file is a 4-byte magic number 0x00 0x00 <type> <ndim>, then ndim big-endian uint32
// dimensions, then the elements in row-major order. Only type 0x08 (unsigned byte) is supported,
// with 1 to 4 dimensions. The file may be gzipped (detected by the gzip magic 0x1f 0x8b, not by
// its name) or raw.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <minigrad/data/error.h>

namespace minigrad::data {

struct IdxArray {
  std::vector<int64_t> dims;   // e.g. {60000, 28, 28}
  std::vector<uint8_t> bytes;  // product(dims) elements, row-major
};

// Reads a raw or gzipped IDX file of unsigned bytes; with expected_ndim > 0, of that many
// dimensions (checked right after the magic number, so a labels file given for images is named as
// such before its sizes are looked at).
// Throws DataError (message starts with the path) when the file is not a regular file, is empty,
// has a bad magic number, an unsupported element type, ndim outside 1..4 or other than
// expected_ndim, a truncated header,
// dimensions whose product overflows int64, a payload shorter or longer than the header says,
// or a corrupt / truncated gzip stream. Never allocates more than the file's data justifies.
IdxArray read_idx(const std::string& path, int expected_ndim = 0);

}  // namespace minigrad::data
