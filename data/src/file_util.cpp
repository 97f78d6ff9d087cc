#include "file_util.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

namespace minigrad::data::detail {

InputFile::InputFile(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f_), &st) != 0) {
        int err = errno;
        std::fclose(f_);
        fail(path, std::string("cannot stat: ") + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        std::fclose(f_);
        fail(path, "is a directory, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
        std::fclose(f_);
        fail(path, "is not a regular file");
    }
    size_ = static_cast<int64_t>(st.st_size);
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
