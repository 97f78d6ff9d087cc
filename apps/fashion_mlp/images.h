#pragma once
// Image files for `predict`: PNG, binary PGM/PPM (P5/P6), JPEG, BMP (via stb_image), made 28x28 grayscale in [0, 1].
#include <string>
#include <vector>

namespace fashion {

// Averages colour channels, resizes by area averaging, and inverts when asked (Fashion-MNIST
// items are light on a dark background). Errors name the file.
std::vector<float> load_image_28x28(const std::string& path, bool invert);

}  // namespace fashion
