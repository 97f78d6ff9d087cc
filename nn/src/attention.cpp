#include <minigrad/nn/attention.h>
#include <minigrad/nn/init.h>

#include <cmath>
#include <limits>

namespace minigrad::nn {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A mask as scores to add: bool true -> -inf, false -> 0; float masks as given.
Tensor additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() == kBool) return zeros(mask.shape(), {.dtype = dtype}).masked_fill(mask, -kInf);
  return mask.to(dtype);
}

void check_3d(const Tensor& t, const char* what, int64_t features) {
  if (!t.defined() || t.dim() != 3 || t.size(2) != features)
    throw Error(fmt::format("{} must be [batch, length, {}], got shape {}", what, features,
                            t.defined() ? shape_str(t.shape()) : "undefined"));
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t E, int64_t H, MultiheadAttentionOptions options)
    : embed_dim(E), num_heads(H), head_dim(H > 0 ? E / H : 0) {
  if (E <= 0 || H <= 0 || E % H != 0)
    throw Error(
        fmt::format("MultiheadAttention: embed_dim {} must be a positive multiple of "
                    "num_heads {}",
                    E, H));
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}, {.dtype = options.dtype}));
  init::xavier_uniform_(in_proj_weight, 1.0, options.generator);
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * E}, {.dtype = options.dtype}));
  out_proj = register_module(
      "out_proj",
      std::make_shared<Linear>(
          E, E, LinearOptions{.bias = options.bias, .dtype = options.dtype, .generator = options.generator}));
  if (options.bias) init::zeros_(out_proj->bias);
  if (options.dropout > 0.0) dropout_ = register_module("dropout", std::make_shared<Dropout>(options.dropout));
}

std::tuple<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                       const Tensor& key_padding_mask, bool need_weights,
                                                       const Tensor& attn_mask) {
  check_3d(query, "query", embed_dim);
  check_3d(key, "key", embed_dim);
  check_3d(value, "value", embed_dim);
  const int64_t B = query.size(0), L = query.size(1), S = key.size(1), E = embed_dim, H = num_heads;
  if (key.size(0) != B || value.size(0) != B || value.size(1) != S)
    throw Error(fmt::format("query {}, key {} and value {} must share the batch, key and value the length",
                            shape_str(query.shape()), shape_str(key.shape()), shape_str(value.shape())));

  // The q, k, v projections: one GEMM for self-attention, else one per input.
  Tensor q, k, v;
  if (query.impl() == key.impl() && key.impl() == value.impl()) {
    const auto qkv = linear(query.reshape({B * L, E}), in_proj_weight, in_proj_bias).chunk(3, 1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    const auto w = in_proj_weight.chunk(3, 0);
    const auto b = in_proj_bias.defined() ? in_proj_bias.chunk(3, 0) : std::vector<Tensor>(3);
    q = linear(query.reshape({B * L, E}), w[0], b[0]);
    k = linear(key.reshape({B * S, E}), w[1], b[1]);
    v = linear(value.reshape({B * S, E}), w[2], b[2]);
  }
  // [B * n, E] -> [B * H, n, head_dim]: each head's rows side by side for bmm.
  const auto heads = [&](const Tensor& t, int64_t n) {
    return t.reshape({B, n, H, head_dim}).permute({0, 2, 1, 3}).reshape({B * H, n, head_dim});
  };
  Tensor scores = bmm(heads(q, L), heads(k, S), false, true).reshape({B, H, L, S}) *
                  (1.0 / std::sqrt(static_cast<double>(head_dim)));
  if (attn_mask.defined()) {
    const bool per_head = attn_mask.dim() == 3;
    if (attn_mask.shape() != Shape{L, S} && attn_mask.shape() != Shape{B * H, L, S})
      throw Error(fmt::format("attn_mask of shape {} must be ({}, {}) or ({}, {}, {})", shape_str(attn_mask.shape()), L,
                              S, B * H, L, S));
    const Tensor m = additive(attn_mask, scores.dtype());
    scores = scores + (per_head ? m.reshape({B, H, L, S}) : m);
  }
  if (key_padding_mask.defined()) {
    if (key_padding_mask.shape() != Shape{B, S})
      throw Error(
          fmt::format("key_padding_mask of shape {} must be ({}, {})", shape_str(key_padding_mask.shape()), B, S));
    scores = scores + additive(key_padding_mask, scores.dtype()).reshape({B, 1, 1, S});
  }
  Tensor attn = scores.softmax(-1);
  if (dropout_) attn = (*dropout_)(attn);
  const Tensor out = bmm(attn.reshape({B * H, L, S}), heads(v, S))
                         .reshape({B, H, L, head_dim})
                         .permute({0, 2, 1, 3})
                         .reshape({B, L, E});
  return {(*out_proj)(out), need_weights ? attn.mean(1) : Tensor()};
}

std::string MultiheadAttention::kind() const {
  return fmt::format("MultiheadAttention {}/{} heads", embed_dim, num_heads);
}

Tensor square_subsequent_mask(int64_t size, DType dtype) {
  if (size < 0) throw Error(fmt::format("square_subsequent_mask: size {} is negative", size));
  const Tensor i = arange(size, {.dtype = dtype});
  // -inf where the column j is after the row i.
  return zeros({size, size}, {.dtype = dtype}).masked_fill(i.reshape({1, size}).gt(i.reshape({size, 1})), -kInf);
}

}  // namespace minigrad::nn
