#pragma once
// Files written so that a crash or a full disk never leaves a truncated file under the real name,
// and read so that a FIFO, a device or an oversized file can neither hang nor exhaust memory.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace minigrad {

// Writes `bytes` to "<path>.tmp.<pid>", fsyncs it, renames it over `path` and fsyncs the
// directory. On any failure the temporary is removed, `path` keeps its old content, and an Error
// names the file and the system's reason.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Removes the temporaries of write_file_atomic ("<name>.tmp.<pid>") in `dir` whose process no
// longer exists (a writer killed between create and rename); returns their paths. Files of live
// processes are left alone.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

// A descriptor of a regular file opened for reading, and its size. The open does not block (a
// FIFO without a writer would block it forever), and anything but a regular file is refused.
struct RegularFile {
  int fd = -1;
  uint64_t size = 0;
};
// The file, or fd = -1 and `problem` saying why not ("cannot open: No such file or directory",
// "is a FIFO, not a regular file"). Layers with their own error types build on this.
RegularFile open_regular_file(const std::string& path, std::string& problem);

// The whole content of a regular file of at most `max_bytes`; otherwise an Error naming the file,
// `what` it should be ("a config file") and the problem, thrown before anything is allocated.
std::string read_file_limited(const std::string& path, uint64_t max_bytes, std::string_view what);

// `text` as it may appear inside a one-line message: control bytes escaped (\n, \t, \x00; UTF-8
// is kept) and anything past `max_chars` cut, saying how long the whole was.
std::string printable(std::string_view text, std::size_t max_chars = 80);

}  // namespace minigrad
