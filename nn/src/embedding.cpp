#include <algorithm>
#include <cstddef>

#include <minigrad/layer_ops.h>
#include <minigrad/nn/embedding.h>
#include <minigrad/nn/init.h>

namespace minigrad::nn {

Embedding::Embedding(int64_t num, int64_t dim, EmbeddingOptions options)
    : num_embeddings(num), embedding_dim(dim), padding_idx(options.padding_idx) {
  if (num <= 0 || dim <= 0)
    throw Error(fmt::format("Embedding: sizes must be positive, got {} embeddings of {}", num, dim));
  if (padding_idx) {
    if (*padding_idx < -num || *padding_idx >= num)
      throw Error(fmt::format("Embedding: padding_idx {} is out of range for {} embeddings", *padding_idx, num));
    if (*padding_idx < 0) *padding_idx += num;
  }
  weight = register_parameter("weight", empty({num, dim}, {.dtype = options.dtype}));
  init::normal_(weight, 0.0, 1.0, options.generator);
  if (padding_idx) {  // all-zero bytes are 0.0 in either float type
    const std::size_t row_bytes = dim * dtype_size(options.dtype);
    std::fill_n(static_cast<std::byte*>(weight.raw_data()) + *padding_idx * row_bytes, row_bytes, std::byte{0});
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(indices, weight, padding_idx); }

std::string Embedding::kind() const {
  return fmt::format("Embedding {}x{}{}", num_embeddings, embedding_dim,
                     padding_idx ? fmt::format(" pad {}", *padding_idx) : "");
}

std::optional<Shape> Embedding::output_shape(const std::optional<Shape>& input) const {
  if (!input) return std::nullopt;
  Shape out = *input;
  out.push_back(embedding_dim);
  return out;
}

}  // namespace minigrad::nn
