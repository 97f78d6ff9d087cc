#pragma once
// The ops behind nn's LayerNorm and Embedding, named and ordered as torch.nn.functional's.
#include <optional>

#include <minigrad/tensor.h>

namespace minigrad {

// Normalizes x over its last normalized_shape.size() axes, which must equal normalized_shape:
// (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance. weight and bias (of
// shape normalized_shape) may be undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// Rows of weight [num_embeddings, dim] picked by int64 indices of any shape: output
// indices.shape + (dim,). The row padding_idx (negative counts from the end) gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx = std::nullopt);

}  // namespace minigrad
