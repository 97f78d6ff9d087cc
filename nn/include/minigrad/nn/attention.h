#pragma once
#include <memory>
#include <tuple>

#include <minigrad/nn/dropout.h>
#include <minigrad/nn/linear.h>
#include <minigrad/random.h>

namespace minigrad::nn {

struct MultiheadAttentionOptions {
  double dropout = 0.0;  // on the attention weights, in training
  bool bias = true;      // in_proj_bias and out_proj.bias
  DType dtype = kFloat32;
  Generator* generator = nullptr;  // for the initial weights; the default generator when null
};

// torch.nn.MultiheadAttention with batch_first=True and kdim = vdim = embed_dim, with its
// parameters (in_proj_weight [3E, E] holding the q, k, v projections, in_proj_bias [3E],
// out_proj) and init (xavier_uniform_ in_proj_weight, zero biases), so PyTorch's state_dict loads.
//   auto [y, weights] = mha(x, x, x, {}, true, nn::square_subsequent_mask(T));
// query [B, L, E], key and value [B, S, E]. key_padding_mask [B, S] and attn_mask [L, S] or
// [B * heads, L, S] are bool (true: may not attend) or float (added to the scores). Returns the
// output [B, L, E] and, when need_weights, the attention weights averaged over heads [B, L, S]
// (undefined otherwise). A query that may attend to nothing gets NaN, as in PyTorch.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});

  std::tuple<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                     const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                     const Tensor& attn_mask = Tensor());
  std::tuple<Tensor, Tensor> operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                        const Tensor& attn_mask = Tensor()) {
    return call([&] { return forward(query, key, value, key_padding_mask, need_weights, attn_mask); });
  }
  std::string kind() const override;

  int64_t embed_dim, num_heads, head_dim;
  Tensor in_proj_weight, in_proj_bias;  // in_proj_bias undefined without bias
  std::shared_ptr<Linear> out_proj;

 private:
  std::shared_ptr<Dropout> dropout_;  // null when options.dropout is 0
};

// [size, size] float mask with -inf above the diagonal and 0 elsewhere: position i attends to
// positions <= i (torch.nn.Transformer.generate_square_subsequent_mask).
Tensor square_subsequent_mask(int64_t size, DType dtype = kFloat32);

}  // namespace minigrad::nn
