#include "images.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

#include <fmt/format.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_NO_PNM  // Netpbm is read below: stb does not read P2/P3 and accepts truncated P5/P6
#include <stb/stb_image.h>

#include <minigrad/data/fashion_mnist.h>
#include <minigrad/io.h>
#include <minigrad/tensor.h>

namespace fashion {

namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& problem) {
  throw minigrad::Error(fmt::format("{}: {}", path, problem));
}

void check_pixel_count(const std::string& path, long long width, long long height) {
  if (width < 1 || height < 1) refuse(path, fmt::format("image size {}x{} is empty", width, height));
  if (width > kMaxImagePixels / height)
    refuse(path, fmt::format("image size {}x{} is larger than the {} pixels predict accepts", width, height,
                             kMaxImagePixels));
}

// Netpbm: "P2|P3|P5|P6", width, height, maxval (whitespace-separated, '#' comments), one
// whitespace byte, then the raster: ASCII decimals (P2, P3) or 1- or 2-byte big-endian samples
// (P5, P6). Colour (P3, P6) is averaged to gray.
class NetpbmReader {
 public:
  NetpbmReader(const std::string& path, std::string bytes) : path_(path), bytes_(std::move(bytes)) {}

  GrayImage read() {
    const char kind = bytes_[1];
    const bool ascii = kind == '2' || kind == '3';
    const int channels = kind == '3' || kind == '6' ? 3 : 1;
    pos_ = 2;
    const long long width = header_number("width"), height = header_number("height");
    const long long maxval = header_number("maxval");
    check_pixel_count(path_, width, height);
    if (maxval < 1 || maxval > 65535) refuse(path_, fmt::format("maxval {} is not in 1..65535", maxval));
    if (pos_ >= bytes_.size() || !std::isspace(static_cast<unsigned char>(bytes_[pos_])))
      refuse(path_, "the header does not end with a whitespace byte before the raster");
    ++pos_;
    const long long samples = width * height * channels;
    const long long left = static_cast<long long>(bytes_.size() - pos_);
    // Check the raster's size against the file before allocating: a binary sample takes 1 or 2
    // bytes, an ASCII one at least a digit and a separator.
    const long long sample_bytes = ascii ? 2 : maxval > 255 ? 2 : 1;
    const long long needed = sample_bytes * samples;
    if (left < needed)
      refuse(path_, fmt::format("truncated: a {}x{} {} raster needs {} {} bytes, {} are left", width, height,
                                channels == 3 ? "colour" : "gray", ascii ? "at least" : "exactly", needed, left));
    GrayImage image{static_cast<int>(width), static_cast<int>(height), {}};
    image.pixels.resize(static_cast<size_t>(width * height));
    for (float& pixel : image.pixels) {
      long long sum = 0;
      for (int c = 0; c < channels; ++c) {
        const long long v = ascii ? raster_number() : binary_sample(sample_bytes);
        if (v > maxval) refuse(path_, fmt::format("sample {} at byte {} is above maxval {}", v, pos_, maxval));
        sum += v;
      }
      pixel = static_cast<float>(static_cast<double>(sum) / (channels * maxval));
    }
    skip_space_and_comments(ascii);
    if (pos_ != bytes_.size())
      refuse(path_, fmt::format("{} bytes of trailing data after the raster (at byte {})", bytes_.size() - pos_, pos_));
    return image;
  }

 private:
  void skip_space_and_comments(bool comments) {
    while (pos_ < bytes_.size()) {
      const char c = bytes_[pos_];
      if (comments && c == '#') {
        const size_t eol = bytes_.find('\n', pos_);
        pos_ = eol == std::string::npos ? bytes_.size() : eol + 1;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  // An unsigned decimal at pos_; `what` names it in errors.
  long long number(std::string_view what) {
    unsigned long long value = 0;
    const char* begin = bytes_.data() + pos_;
    const char* end = bytes_.data() + bytes_.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc::result_out_of_range || (ec == std::errc{} && value > 1'000'000'000))
      refuse(path_, fmt::format("{} at byte {} is too large", what, pos_));
    if (ec != std::errc{} || (ptr < end && !std::isspace(static_cast<unsigned char>(*ptr)) && *ptr != '#'))
      refuse(path_, pos_ >= bytes_.size() ? fmt::format("truncated: the file ends where the {} should be", what)
                                          : fmt::format("{} at byte {} is not a decimal number", what, pos_));
    pos_ = static_cast<size_t>(ptr - bytes_.data());
    return static_cast<long long>(value);
  }

  long long header_number(std::string_view what) {
    skip_space_and_comments(true);
    return number(what);
  }

  // An ASCII sample and the whitespace after it: a file cut inside its last number would
  // otherwise read as a smaller value.
  long long raster_number() {
    skip_space_and_comments(false);
    const long long v = number("sample");
    if (pos_ == bytes_.size()) refuse(path_, "truncated: the last sample is not followed by a newline or space");
    return v;
  }

  long long binary_sample(long long sample_bytes) {
    long long v = static_cast<unsigned char>(bytes_[pos_++]);
    if (sample_bytes == 2) v = v << 8 | static_cast<unsigned char>(bytes_[pos_++]);
    return v;
  }

  const std::string& path_;
  std::string bytes_;
  size_t pos_ = 0;
};

GrayImage load_with_stb(const std::string& path, const std::string& bytes) {
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &channels))
    refuse(path,
           fmt::format("cannot read the image: {} (predict reads PNG, JPEG, BMP and PGM/PPM)", stbi_failure_reason()));
  check_pixel_count(path, width, height);
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(data, length, &width, &height, &channels, 1),
                                                   stbi_image_free);
  if (!pixels) refuse(path, fmt::format("cannot read the image: {}", stbi_failure_reason()));
  GrayImage image{width, height, std::vector<float>(static_cast<size_t>(width) * height)};
  std::transform(pixels.get(), pixels.get() + image.pixels.size(), image.pixels.begin(),
                 [](stbi_uc v) { return v / 255.0f; });
  return image;
}

}  // namespace

GrayImage load_gray_image(const std::string& path) {
  std::string bytes = minigrad::read_file_limited(path, kMaxImageFileBytes, "an image file");
  if (bytes.empty()) refuse(path, "the image file is empty");
  if (bytes.size() >= 2 && bytes[0] == 'P' && std::string_view("2356").find(bytes[1]) != std::string_view::npos)
    return NetpbmReader(path, std::move(bytes)).read();
  return load_with_stb(path, bytes);
}

std::vector<float> load_image_28x28(const std::string& path, bool invert) {
  const GrayImage image = load_gray_image(path);
  constexpr int kSide = minigrad::data::kFashionMnistSide;
  std::vector<float> out(kSide * kSide);
  // Each output pixel averages the block of source pixels it covers (at least one).
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const int y0 = static_cast<int>(int64_t{y} * image.height / kSide);
      const int y1 = std::max(y0 + 1, static_cast<int>(int64_t{y + 1} * image.height / kSide));
      const int x0 = static_cast<int>(int64_t{x} * image.width / kSide);
      const int x1 = std::max(x0 + 1, static_cast<int>(int64_t{x + 1} * image.width / kSide));
      double sum = 0;
      for (int sy = y0; sy < y1; ++sy)
        for (int sx = x0; sx < x1; ++sx) sum += image.pixels[static_cast<size_t>(sy) * image.width + sx];
      const float value = static_cast<float>(sum / ((y1 - y0) * (x1 - x0)));
      out[y * kSide + x] = invert ? 1.0f - value : value;
    }
  return out;
}

}  // namespace fashion
