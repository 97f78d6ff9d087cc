// Helpers of the bad-input corpora: temporary files, byte-level mutations of a valid file, and
// running a reader in a child process whose address space is capped, so that an allocation larger
// than the input could justify fails the test instead of passing unnoticed.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bad_input {

using Bytes = std::string;

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "minigrad-bad-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One named broken variant of a valid file.
struct Variant {
  std::string name;
  Bytes bytes;
};

// Every proper prefix of `good` (lengths 0 .. size-1): truncated headers and payloads.
inline std::vector<Variant> truncations(const Bytes& good) {
  std::vector<Variant> out;
  for (size_t n = 0; n < good.size(); ++n)
    out.push_back({"truncated to " + std::to_string(n) + " bytes", good.substr(0, n)});
  return out;
}

// `good` with byte i XORed with `mask`, for each i in [begin, end).
inline std::vector<Variant> flips(const Bytes& good, size_t begin, size_t end, uint8_t mask) {
  std::vector<Variant> out;
  for (size_t i = begin; i < std::min(end, good.size()); ++i) {
    Bytes b = good;
    b[i] = static_cast<char>(b[i] ^ mask);
    out.push_back({"byte " + std::to_string(i) + " ^ " + std::to_string(mask), b});
  }
  return out;
}

// What a reader did with one input, observed from outside its process.
struct Outcome {
  enum Kind { Returned, Threw, OutOfMemory, OtherException, Crashed } kind = Crashed;
  std::string text;  // Returned: a digest of the result; Threw/OtherException: the message
};

inline const char* kind_name(Outcome::Kind k) {
  static const char* names[] = {"returned", "threw the expected error",
                                "ran out of memory (allocated more than the "
                                "input justifies)",
                                "threw an unexpected exception type", "crashed"};
  return names[k];
}

// True when built with AddressSanitizer, which reserves terabytes of address space: RLIMIT_AS
// cannot be used there, and ASan's own allocator checks take its place.
constexpr bool kAddressSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

inline long long address_space_in_use() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0;
  statm >> pages;
  return pages * ::sysconf(_SC_PAGESIZE);
}

// A reader that blocks (on a FIFO, say) is killed by SIGALRM after this long: a failure, not a hang.
constexpr unsigned kReaderTimeoutSeconds = 60;

// Runs read() in a forked child whose address space may grow by at most `budget` bytes and which
// is killed after kReaderTimeoutSeconds; the child reports through a pipe. read() returns a
// digest of what it read; it must throw Expected (or return) - any other outcome is reported as
// such. The child calls only the reader: no threads are started in it.
template <class Expected>
Outcome run_capped(const std::function<std::string()>& read, long long budget) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(kReaderTimeoutSeconds);
    if (!kAddressSanitizer) {
      const rlim_t cap = static_cast<rlim_t>(address_space_in_use() + budget);
      const rlimit limit{cap, cap};
      ::setrlimit(RLIMIT_AS, &limit);
    }
    Outcome::Kind kind = Outcome::OtherException;
    std::string text;
    try {
      text = read();
      kind = Outcome::Returned;
    } catch (const std::bad_alloc& e) {
      kind = Outcome::OutOfMemory;
      text = e.what();
    } catch (const Expected& e) {
      kind = Outcome::Threw;
      text = e.what();
    } catch (const std::exception& e) {
      text = std::string(typeid(e).name()) + ": " + e.what();
    }
    const std::string report = std::string(1, static_cast<char>('0' + kind)) + text;
    for (size_t done = 0; done < report.size();) {
      const ssize_t n = ::write(fds[1], report.data() + done, report.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome out;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || report.empty()) {
    out.text = !WIFSIGNALED(status)          ? "no report"
               : WTERMSIG(status) == SIGALRM ? "timed out (blocked for " + std::to_string(kReaderTimeoutSeconds) + " s)"
                                             : "signal " + std::to_string(WTERMSIG(status));
    return out;
  }
  out.kind = static_cast<Outcome::Kind>(report[0] - '0');
  out.text = report.substr(1);
  return out;
}

}  // namespace bad_input
