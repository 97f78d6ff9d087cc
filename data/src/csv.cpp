// Kaggle-style image CSV reader: the file is read in large chunks and parsed in one pass, a
// std::from_chars per cell; a cell is looked at again only to explain an error.
#include <minigrad/data/csv.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <minigrad/io.h>

#include "file_util.h"

namespace minigrad::data {
namespace {

using detail::fail;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The cell as quoted in a message: shortened if long, control bytes (a NUL) escaped.
std::string quoted(std::string_view cell) {
  std::string s = printable(cell, 40);
  s.insert(s.begin(), '\'');
  s.push_back('\'');
  return s;
}

bool parses_as_int(std::string_view s) {
  s = trim(s);
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ptr == s.data() + s.size() && ec != std::errc::invalid_argument;
}

size_t count_cells(std::string_view line) { return static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1; }

class CsvParser {
 public:
  CsvParser(const std::string& path, int64_t rows, int64_t cols, int num_classes, int64_t file_size)
      : path_(path), npix_(static_cast<size_t>(rows * cols)), ncols_(npix_ + 1), max_label_(num_classes - 1) {
    expect_cols_ =
        std::to_string(ncols_) + " (label + " + std::to_string(rows) + "x" + std::to_string(cols) + " pixels)";
    set_.rows = rows;
    set_.cols = cols;
    // A data line needs at least one character and one separator per cell, so the file size
    // bounds the number of images. Reserve (not resize): untouched pages cost nothing.
    max_images_ = static_cast<size_t>(file_size) / (2 * ncols_ - 1) + 1;
    set_.pixels.reserve(max_images_ * npix_);
    set_.labels.reserve(max_images_);
  }

  // One line without its '\n' (a trailing '\r' is dropped here).
  void line(std::string_view line) {
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::all_of(line.begin(), line.end(), is_blank)) {
      if (!blank_line_) blank_line_ = line_no_;
      return;
    }
    if (blank_line_)
      fail(path_,
           "line " + std::to_string(blank_line_) + " is blank (blank lines are only accepted at the end of the file)");
    if (line_no_ == 1 && !parses_as_int(line.substr(0, line.find(',')))) {  // a header
      if (size_t n = count_cells(line); n != ncols_)
        fail(path_, "line 1 (header): has " + std::to_string(n) + " columns, expected " + expect_cols_);
      return;
    }
    if (set_.labels.size() == max_images_) fail(path_, "internal error: more lines than the file size allows");

    const size_t off = set_.pixels.size();
    set_.pixels.resize(off + npix_);
    uint8_t* pix = set_.pixels.data() + off;
    const char* c = line.data();
    const char* const end = line.data() + line.size();
    int label = 0;
    bool more = true;  // is there a cell at c?
    for (size_t col = 1; col <= ncols_; ++col) {
      if (!more)
        fail(path_,
             where(col) + "missing: the line has " + std::to_string(col - 1) + " columns, expected " + expect_cols_);
      const char* s = c;
      while (s < end && is_blank(*s)) ++s;
      int v = 0;
      auto [ptr, ec] = std::from_chars(s, end, v);
      const char* q = ptr;
      while (q < end && is_blank(*q)) ++q;
      const int hi = col == 1 ? max_label_ : 255;
      if (ec != std::errc{} || (q < end && *q != ',') || v < 0 || v > hi) bad_cell(c, end, col, hi);
      if (col == 1)
        label = v;
      else
        pix[col - 2] = static_cast<uint8_t>(v);
      more = q < end;
      if (more) c = q + 1;
    }
    if (more) {
      const char* ce = static_cast<const char*>(std::memchr(c, ',', static_cast<size_t>(end - c)));
      std::string_view extra = trim(std::string_view(c, static_cast<size_t>((ce ? ce : end) - c)));
      fail(path_, where(ncols_ + 1) + "extra cell " + quoted(extra) + ": the line has " +
                      std::to_string(count_cells(line)) + " columns, expected " + expect_cols_);
    }
    set_.labels.push_back(static_cast<uint8_t>(label));
  }

  ImageSet finish() {
    if (blank_line_ == 1) fail(path_, "file has only blank lines (expected lines of label,pixel1,...)");
    set_.count = static_cast<int64_t>(set_.labels.size());
    // Give memory back only when much more was reserved than used (the bound is loose for
    // files with many 2- and 3-digit cells, but unused reserved pages are never touched).
    if (set_.pixels.size() < set_.pixels.capacity() / 4) {
      set_.pixels.shrink_to_fit();
      set_.labels.shrink_to_fit();
    }
    return std::move(set_);
  }

 private:
  std::string where(size_t col) const {
    return "line " + std::to_string(line_no_) + ", column " + std::to_string(col) +
           (col == 1        ? std::string(" (label)")
            : col <= ncols_ ? " (pixel" + std::to_string(col - 1) + ")"
                            : std::string()) +
           ": ";
  }

  // The cell starting at c did not parse as an integer in 0..hi: say why.
  [[noreturn]] void bad_cell(const char* c, const char* end, size_t col, int hi) const {
    const char* ce = static_cast<const char*>(std::memchr(c, ',', static_cast<size_t>(end - c)));
    std::string_view cell = trim(std::string_view(c, static_cast<size_t>((ce ? ce : end) - c)));
    if (cell.empty()) fail(path_, where(col) + "empty cell");
    int v = 0;
    auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
    if (ec == std::errc::invalid_argument || ptr != cell.data() + cell.size())
      fail(path_, where(col) + quoted(cell) + " is not an integer");
    fail(path_,
         where(col) + (col == 1 ? "label " : "value ") + quoted(cell) + " is out of range 0.." + std::to_string(hi));
  }

  const std::string& path_;
  const size_t npix_, ncols_;
  const int max_label_;
  std::string expect_cols_;
  size_t max_images_ = 0;
  int64_t line_no_ = 0, blank_line_ = 0;
  ImageSet set_;
};

}  // namespace

ImageSet read_image_csv(const std::string& path, int64_t rows, int64_t cols, int num_classes) {
  int64_t npix = 0;
  if (rows < 1 || cols < 1 || __builtin_mul_overflow(rows, cols, &npix) || npix > (int64_t{1} << 30))
    throw std::invalid_argument("read_image_csv: bad image size " + std::to_string(rows) + "x" + std::to_string(cols));
  if (num_classes < 1 || num_classes > 256)
    throw std::invalid_argument("read_image_csv: num_classes is " + std::to_string(num_classes) +
                                "; it must be in 1..256 for byte labels");

  detail::InputFile file(path);
  if (file.size() == 0)
    fail(path, "file is empty (expected lines of label,pixel1,...,pixel" + std::to_string(npix) + ")");
  CsvParser parser(path, rows, cols, num_classes, file.size());

  // Chunks of whole lines; a line longer than the buffer makes it grow. Small files get a small
  // buffer (a 4 MB one per call made the fuzzer 100x slower).
  std::vector<char> buf(std::min<size_t>(size_t{4} << 20, static_cast<size_t>(file.size()) + 1));
  size_t have = 0;
  bool eof = false;
  while (!eof) {
    if (have == buf.size()) buf.resize(buf.size() * 2);
    size_t got = file.read(buf.data() + have, buf.size() - have);
    eof = got == 0;
    have += got;
    const char* p = buf.data();
    const char* const end = buf.data() + have;
    while (p < end) {
      const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!eol) {
        if (eof) {  // last line, without a final newline
          parser.line(std::string_view(p, static_cast<size_t>(end - p)));
          p = end;
        }
        break;
      }
      parser.line(std::string_view(p, static_cast<size_t>(eol - p)));
      p = eol + 1;
    }
    have = static_cast<size_t>(end - p);
    std::memmove(buf.data(), p, have);
  }
  return parser.finish();
}

}  // namespace minigrad::data
