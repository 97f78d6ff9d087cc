// Private helpers shared by the readers of minigrad/data (not installed, not a public header).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <minigrad/data/error.h>

namespace minigrad::data::detail {

// Throws DataError("<path>: <what>").
[[noreturn]] inline void fail(const std::string& path, std::string_view what) {
  std::string msg = path;
  msg += ": ";
  msg += what;
  throw DataError(msg);
}

// A FILE* opened for binary reading that closes itself. Refuses directories, FIFOs, devices and
// other non-regular files (without blocking on a FIFO), so that size() bounds what is read.
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int64_t size() const { return size_; }
  // Reads up to n bytes; returns fewer only at the end of the file. Throws on a read error.
  size_t read(void* dst, size_t n);

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace minigrad::data::detail
