#include "file_util.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include <minigrad/io.h>

namespace minigrad::data::detail {

InputFile::InputFile(const std::string& path) : path_(path) {
  std::string problem;
  const RegularFile file = open_regular_file(path, problem);
  if (file.fd < 0) fail(path, problem);
  f_ = ::fdopen(file.fd, "rb");
  if (!f_) {
    const int err = errno;
    ::close(file.fd);
    fail(path, std::string("cannot open: ") + std::strerror(err));
  }
  size_ = static_cast<int64_t>(file.size);
}

InputFile::~InputFile() {
  if (f_) std::fclose(f_);
}

size_t InputFile::read(void* dst, size_t n) {
  size_t got = std::fread(dst, 1, n, f_);
  if (got < n && std::ferror(f_)) fail(path_, std::string("read error: ") + std::strerror(errno));
  return got;
}

}  // namespace minigrad::data::detail
