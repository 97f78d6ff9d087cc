#pragma once
// Writing files so that a crash or a full disk never leaves a truncated file under the real name.
#include <string>
#include <string_view>

namespace minigrad {

// Writes `bytes` to "<path>.tmp.<pid>", fsyncs it, renames it over `path` and fsyncs the
// directory. On any failure the temporary is removed, `path` keeps its old content, and an Error
// names the file and the system's reason.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace minigrad
