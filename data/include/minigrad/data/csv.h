// minigrad/data/csv.h - Kaggle-style image CSV: `label,pixel1,...,pixelN` per line.
#pragma once

#include <cstdint>
#include <string>

#include <minigrad/data/error.h>
#include <minigrad/data/fashion_mnist.h>

namespace minigrad::data {

// Reads one image per line: a label in 0..num_classes-1 then rows*cols pixel values in 0..255,
// separated by commas. A header line is optional (recognised when its first cell is not an
// integer); CRLF line ends and blank lines at the end of the file are accepted (a file of only
// blank lines is refused, like an empty one); spaces around a
// cell are ignored. Throws DataError naming the file, the 1-based line and column, and the
// offending cell text for a non-integer cell, a value outside 0..255, a label outside
// 0..num_classes-1, or a line with too few or too many columns.
ImageSet read_image_csv(const std::string& path, int64_t rows = 28, int64_t cols = 28, int num_classes = 10);

}  // namespace minigrad::data
