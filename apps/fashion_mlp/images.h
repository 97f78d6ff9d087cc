#pragma once
// Image files for `predict`: Netpbm PGM/PPM, ASCII or binary (P2/P3/P5/P6, read here, strictly),
// and PNG, JPEG, BMP (via stb_image), made 28x28 grayscale in [0, 1].
#include <cstdint>
#include <string>
#include <vector>

namespace fashion {

// A grayscale image, row-major, values in [0, 1].
struct GrayImage {
  int width = 0, height = 0;
  std::vector<float> pixels;
};

// Reads any of the formats above, averaging colour channels. Throws minigrad::Error naming the
// file and the problem (not a regular file, larger than kMaxImageFileBytes, bad header, truncated
// or oversized raster, sample above maxval, image larger than kMaxImagePixels) before allocating
// more than the file can fill.
GrayImage load_gray_image(const std::string& path);
inline constexpr long long kMaxImagePixels = 1LL << 26;  // 8192 x 8192
// Larger files are refused unread: 256 MB is more than any image of kMaxImagePixels takes in the
// formats above short of ASCII Netpbm padded with comments.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 28;

// load_gray_image, resized to 28x28 by area averaging and inverted when asked (Fashion-MNIST
// items are light on a dark background).
std::vector<float> load_image_28x28(const std::string& path, bool invert);

}  // namespace fashion
