// IDX reader: raw or gzipped (zlib inflate, streamed), strict about every length.
#include <minigrad/data/idx.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>

#include <zlib.h>

#include "file_util.h"

namespace minigrad::data {
namespace {

using detail::fail;
using detail::InputFile;

std::string hex_byte(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v & 0xffu);
  return buf;
}

const char* idx_type_name(unsigned type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

// The bytes of a file, decompressed on the fly when it starts with the gzip magic.
// read() returns fewer bytes than asked only at the end of the data; a gzip stream that ends
// before its trailer sets truncated() instead of throwing, so the caller can say what it was
// reading. Corrupt compressed data, and non-gzip bytes after the last gzip member, throw.
class ByteSource {
 public:
  // The read buffer is no bigger than the file: a small file costs a small buffer.
  explicit ByteSource(const std::string& path)
      : path_(path), file_(path), in_(static_cast<size_t>(std::clamp<int64_t>(file_.size(), 1, kInSize))) {
    in_len_ = file_.read(in_.data(), in_.size());
    file_pos_ = static_cast<int64_t>(in_len_);
    if (in_len_ == 0) fail(path_, "file is empty (expected an IDX file, raw or gzipped)");
    gzip_ = in_len_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
    if (gzip_) {
      std::memset(&zs_, 0, sizeof zs_);
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(path_, "zlib: inflateInit2 failed");
      zs_.next_in = in_.data();
      zs_.avail_in = static_cast<uInt>(in_len_);
    }
  }
  ~ByteSource() {
    if (gzip_) inflateEnd(&zs_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gzip_; }
  bool truncated() const { return truncated_; }
  int64_t file_size() const { return file_.size(); }
  // Raw files only: bytes not yet handed out.
  int64_t raw_remaining() const { return file_.size() - file_pos_ + static_cast<int64_t>(in_len_ - in_pos_); }

  size_t read(uint8_t* dst, size_t n) { return gzip_ ? read_gzip(dst, n) : read_raw(dst, n); }

 private:
  static constexpr size_t kInSize = size_t{1} << 20;

  size_t read_raw(uint8_t* dst, size_t n) {
    if (n == 0) return 0;
    size_t from_buf = std::min(n, in_len_ - in_pos_);
    std::memcpy(dst, in_.data() + in_pos_, from_buf);
    in_pos_ += from_buf;
    size_t got = from_buf;
    if (got < n) {
      size_t more = file_.read(dst + got, n - got);
      file_pos_ += static_cast<int64_t>(more);
      got += more;
    }
    return got;
  }

  // Refills the input buffer, keeping the keep unread bytes at zs_.next_in. False at EOF.
  bool refill() {
    size_t keep = zs_.avail_in;
    if (keep) std::memmove(in_.data(), zs_.next_in, keep);
    size_t got = file_.read(in_.data() + keep, in_.size() - keep);
    file_pos_ += static_cast<int64_t>(got);
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(keep + got);
    return got > 0;
  }

  // Offset in the file of the next compressed byte inflate would read.
  int64_t compressed_offset() const { return file_pos_ - static_cast<int64_t>(zs_.avail_in); }

  size_t read_gzip(uint8_t* dst, size_t n) {
    size_t done = 0;  // n == 0 reads nothing: the loop does not run
    while (done < n && !finished_ && !truncated_) {
      if (member_ended_) {
        // After a gzip member: end of file, another member, or garbage.
        if (zs_.avail_in < 2 && !eof_) eof_ = !refill();
        if (zs_.avail_in == 0) {
          finished_ = true;
          break;
        }
        if (zs_.avail_in < 2 || zs_.next_in[0] != 0x1f || zs_.next_in[1] != 0x8b) {
          int64_t extra = file_.size() - compressed_offset();
          fail(path_, std::to_string(extra) +
                          " bytes of non-gzip data after the end of the "
                          "gzip stream (at byte offset " +
                          std::to_string(compressed_offset()) + ")");
        }
        inflateReset(&zs_);
        member_ended_ = false;
      }
      if (zs_.avail_in == 0) {
        if (eof_ || !refill()) {
          eof_ = true;
          truncated_ = true;
          break;
        }
      }
      size_t chunk = std::min<size_t>(n - done, size_t{1} << 30);
      zs_.next_out = dst + done;
      zs_.avail_out = static_cast<uInt>(chunk);
      int64_t before = compressed_offset();
      int ret = inflate(&zs_, Z_NO_FLUSH);
      done += chunk - zs_.avail_out;
      switch (ret) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          member_ended_ = true;
          break;
        case Z_BUF_ERROR:
          break;  // needs more input; the loop refills
        case Z_MEM_ERROR:
          fail(path_, "zlib: out of memory while decompressing");
        default: {
          std::string why = zs_.msg ? zs_.msg : ("zlib error " + std::to_string(ret));
          fail(path_, "corrupt gzip stream: " + why + " (near compressed byte offset " + std::to_string(before) +
                          " of " + std::to_string(file_.size()) + ")");
        }
      }
    }
    return done;
  }

  const std::string& path_;
  InputFile file_;
  std::vector<uint8_t> in_;
  size_t in_len_ = 0, in_pos_ = 0;  // raw mode: bytes of in_ filled / consumed
  int64_t file_pos_ = 0;            // bytes read from the file so far
  bool gzip_ = false;
  z_stream zs_;
  bool member_ended_ = false, finished_ = false, eof_ = false, truncated_ = false;
};

// What an IDX file of `ndim` dimensions holds, for messages.
std::string idx_kind(unsigned ndim) {
  if (ndim == 1) return "a labels file (1 dimension: count)";
  if (ndim == 3) return "an images file (3 dimensions: count x rows x cols)";
  return "an IDX file of " + std::to_string(ndim) + " dimensions";
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_ndim) {
  ByteSource src(path);
  const char* cut_short = " (the gzip stream is cut short: the compressed file is truncated)";

  std::array<uint8_t, 4> magic{};
  size_t got = src.read(magic.data(), magic.size());
  if (got < magic.size())
    fail(path, "truncated header: " + std::string(src.gzip() ? "decompressed data has " : "file has ") +
                   std::to_string(got) + " bytes, the IDX magic number needs 4" + (src.truncated() ? cut_short : ""));
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, "bad magic number " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) + " " + hex_byte(magic[2]) + " " +
                   hex_byte(magic[3]) + ": an IDX file starts with 0x00 0x00 <type> <ndim>");
  const unsigned type = magic[2];
  if (type != 0x08)
    fail(path, "unsupported IDX element type " + hex_byte(type) + " (" + idx_type_name(type) +
                   "); only 0x08 (unsigned byte) is supported");
  const unsigned ndim = magic[3];
  if (ndim < 1 || ndim > 4)
    fail(path, "header says " + std::to_string(ndim) + " dimensions; only 1 to 4 are supported");
  if (expected_ndim != 0 && ndim != static_cast<unsigned>(expected_ndim))
    fail(path, "is " + idx_kind(ndim) + ", expected " + idx_kind(static_cast<unsigned>(expected_ndim)));

  std::array<uint8_t, 16> raw_dims{};
  const size_t header_size = 4 + 4 * size_t{ndim};
  got = src.read(raw_dims.data(), 4 * ndim);
  if (got < 4 * ndim)
    fail(path, "truncated header: " + std::string(src.gzip() ? "decompressed data has " : "file has ") +
                   std::to_string(4 + got) + " bytes, the header of a " + std::to_string(ndim) +
                   "-dimensional IDX file needs " + std::to_string(header_size) + (src.truncated() ? cut_short : ""));

  IdxArray out;
  out.dims.resize(ndim);
  int64_t expected = 1;
  bool overflow = false;
  for (unsigned i = 0; i < ndim; ++i) {
    const uint8_t* b = &raw_dims[4 * i];
    out.dims[i] = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    overflow = overflow || __builtin_mul_overflow(expected, out.dims[i], &expected);
  }
  if (overflow) fail(path, "dimensions " + dims_text(out.dims) + " multiply to more than a 64-bit size can hold");

  auto mismatch = [&](int64_t have, const char* why) {
    fail(path, "payload has " + std::to_string(have) + " bytes, header says " + dims_text(out.dims) + " = " +
                   std::to_string(expected) + why);
  };

  if (!src.gzip()) {
    // The file size tells the payload length exactly: check before allocating anything.
    const int64_t have = src.raw_remaining();
    if (have < expected) mismatch(have, " (the file is truncated)");
    if (have > expected)
      mismatch(have, (" (" + std::to_string(have - expected) + " trailing bytes after the payload)").c_str());
    out.bytes.resize(static_cast<size_t>(expected));
    got = src.read(out.bytes.data(), out.bytes.size());
    if (static_cast<int64_t>(got) != expected)
      mismatch(static_cast<int64_t>(got), " (the file shrank while being read)");
    return out;
  }

  // Gzip: the header is not trusted for the allocation. Start from what the compressed size
  // makes plausible (image files compress about 2:1) and double as data actually arrives, so a
  // tiny file claiming a huge array costs a tiny buffer.
  const int64_t plausible = std::max<int64_t>(4096, 4 * src.file_size());
  size_t filled = 0;
  out.bytes.resize(static_cast<size_t>(std::min(expected, plausible)));
  while (static_cast<int64_t>(filled) < expected) {
    if (filled == out.bytes.size())
      out.bytes.resize(static_cast<size_t>(std::min<int64_t>(expected, 2 * static_cast<int64_t>(filled))));
    size_t want = out.bytes.size() - filled;
    size_t n = src.read(out.bytes.data() + filled, want);
    filled += n;
    if (n < want) break;
  }
  if (static_cast<int64_t>(filled) < expected)
    mismatch(static_cast<int64_t>(filled), src.truncated() ? cut_short : " (the file is truncated)");

  // Anything after the payload is an error too: count it (bounded by the compressed size).
  int64_t extra = 0;
  std::array<uint8_t, 1 << 16> scratch;
  for (size_t n; (n = src.read(scratch.data(), scratch.size())) > 0;) extra += static_cast<int64_t>(n);
  if (extra > 0)
    mismatch(expected + extra, (" (" + std::to_string(extra) + " trailing bytes after the payload)").c_str());
  if (src.truncated())
    fail(path,
         "the gzip stream is cut short after the payload (its trailer is missing: the compressed file "
         "is truncated)");
  return out;
}

}  // namespace minigrad::data
