#include <minigrad/io.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include <minigrad/tensor.h>

namespace minigrad {

namespace {

constexpr std::string_view kTmpMarker = ".tmp.";

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = fmt::format("{}{}{}", path, kTmpMarker, ::getpid());
  auto fail = [&](std::string_view what, int err) {
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create the temporary file", errno);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      fail(fmt::format("write failed after {} of {} bytes", written, bytes.size()), err);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync failed", err);
  }
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename the temporary into place", errno);
  // Make the rename itself durable.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t marker = name.rfind(kTmpMarker);
    if (marker == std::string::npos || marker == 0) continue;
    const char* digits = name.data() + marker + kTmpMarker.size();
    const char* end = name.data() + name.size();
    pid_t pid = 0;
    const auto [ptr, parse] = std::from_chars(digits, end, pid);
    if (parse != std::errc{} || ptr != end || pid <= 0) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code remove_error;
    if (entry.is_regular_file(remove_error) && std::filesystem::remove(entry.path(), remove_error))
      removed.push_back(entry.path().string());
  }
  return removed;
}

RegularFile open_regular_file(const std::string& path, std::string& problem) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    problem = fmt::format("cannot open: {}", std::strerror(errno));
    return {};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    problem = fmt::format("cannot stat: {}", std::strerror(errno));
    ::close(fd);
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    problem = fmt::format("is {}, not a regular file", file_kind(st.st_mode));
    ::close(fd);
    return {};
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return {fd, static_cast<uint64_t>(st.st_size)};
}

std::string read_file_limited(const std::string& path, uint64_t max_bytes, std::string_view what) {
  std::string problem;
  const RegularFile file = open_regular_file(path, problem);
  if (file.fd < 0) throw Error(fmt::format("{}: {} (expected {})", path, problem, what));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{file.fd};
  if (file.size > max_bytes)
    throw Error(
        fmt::format("{}: {} bytes is larger than {} can be (at most {} bytes)", path, file.size, what, max_bytes));
  std::string bytes(static_cast<std::size_t>(file.size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
    if (n == 0) break;  // the file shrank while being read
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_chars) {
      out += fmt::format("... ({} bytes in all)", text.size());
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

}  // namespace minigrad
