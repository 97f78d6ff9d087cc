// libFuzzer target: read_image_csv (2x2 images, 10 classes) on arbitrary bytes must return a
// consistent image set or throw DataError.
#include <minigrad/data/csv.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const minigrad::data::ImageSet s = minigrad::data::read_image_csv(fuzz::as_file(data, size), 2, 2, 10);
    fuzz::require(s.rows == 2 && s.cols == 2, "geometry as asked");
    fuzz::require(s.pixels.size() == static_cast<size_t>(s.count) * 4, "4 pixels per image");
    fuzz::require(s.labels.size() == static_cast<size_t>(s.count), "one label per image");
    for (uint8_t label : s.labels) fuzz::require(label < 10, "labels in 0..9");
  } catch (const minigrad::data::DataError&) {
  }
  return 0;
}
