// Private helpers shared by dataset.cpp, transforms.cpp and loader.cpp (not a public header).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <minigrad/data/dataset.h>
#include <minigrad/random.h>
#include <minigrad/tensor.h>

namespace minigrad::data::detail {

// Throws std::invalid_argument, naming `who`, unless images is float32 [N, features] and labels
// int64 [N] with the same N, and the geometry is empty or has as many elements as a row of images.
void check_dataset(const Dataset& dataset, std::string_view who);

// A new tensor whose row k is src's row rows[k] (rows along axis 0, any dtype). One memcpy per
// row; the buffer comes from the caching allocator. rows must be in range (unchecked).
Tensor gather_rows(const Tensor& src, const int64_t* rows, int64_t count);

// A uniformly random permutation of 0..n-1 (Fisher-Yates).
std::vector<int64_t> random_permutation(int64_t n, Generator& gen);

}  // namespace minigrad::data::detail
