#include "images.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include <minigrad/tensor.h>

namespace fashion {

std::vector<float> load_image_28x28(const std::string& path, bool invert) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(path.c_str(), &width, &height, &channels, 1),
                                                         stbi_image_free);
  if (!pixels) throw minigrad::Error(fmt::format("{}: cannot read the image: {}", path, stbi_failure_reason()));
  constexpr int kSide = 28;
  std::vector<float> out(kSide * kSide);
  // Each output pixel averages the block of source pixels it covers (at least one).
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const int y0 = y * height / kSide, y1 = std::max(y0 + 1, (y + 1) * height / kSide);
      const int x0 = x * width / kSide, x1 = std::max(x0 + 1, (x + 1) * width / kSide);
      double sum = 0;
      for (int sy = y0; sy < y1; ++sy)
        for (int sx = x0; sx < x1; ++sx) sum += pixels.get()[sy * width + sx];
      const float value = static_cast<float>(sum / ((y1 - y0) * (x1 - x0)) / 255.0);
      out[y * kSide + x] = invert ? 1.0f - value : value;
    }
  return out;
}

}  // namespace fashion
