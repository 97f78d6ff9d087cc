#pragma once
#include <optional>

#include <minigrad/nn/module.h>
#include <minigrad/random.h>

namespace minigrad::nn {

struct EmbeddingOptions {
  // This row starts at zero and is never trained (negative counts from the end), as PyTorch's.
  std::optional<int64_t> padding_idx = std::nullopt;
  DType dtype = kFloat32;
  Generator* generator = nullptr;  // for the initial weights, N(0, 1); the default when null
};

// A lookup table: int64 indices of any shape -> their rows of weight [num_embeddings, dim],
// shape indices.shape + (dim,). As torch.nn.Embedding (no max_norm, no sparse gradients).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});

  Tensor forward(const Tensor& indices) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // normalized to [0, num_embeddings)
  Tensor weight;
};

}  // namespace minigrad::nn
