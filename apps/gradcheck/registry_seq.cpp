// Registry entries of the sequence-model layers and their ops: layer_norm, embedding, LayerNorm,
// Embedding, MultiheadAttention, LSTM, GRU. The last three are built from registered ops and
// record none of their own; their cases check everything they return, flattened into one tensor.
#include "registry.h"

namespace minigrad::gradcheck_tool {

namespace nn = minigrad::nn;
using Inputs = std::vector<mg::Tensor>;
using mg::Shape;
using mg::Tensor;

namespace {

Tensor indices(std::vector<int64_t> values, Shape shape) { return mg::tensor(values, shape); }

void add_layer_norm(Registry& r) {
  OpEntry e{.name = "layer_norm"};
  struct Case {
    Shape x, normalized;
    bool affine;
    double eps;
  };
  for (const Case& c : std::vector<Case>{{{3, 4}, {4}, true, 1e-5},
                                         {{2, 3, 4}, {3, 4}, true, 1e-5},
                                         {{2, 3, 4}, {4}, false, 0.5},  // eps is in the gradient
                                         {{3, 1}, {1}, true, 1e-5},     // one element: xhat is 0
                                         {{0, 4}, {4}, true, 1e-5},
                                         {{5}, {5}, true, 1e-5}}) {
    std::vector<Shape> shapes{c.x};
    if (c.affine) shapes.insert(shapes.end(), {c.normalized, c.normalized});
    e.cases.push_back(
        {fmt::format("{} over {}{}{}", mg::shape_str(c.x), mg::shape_str(c.normalized),
                     c.affine ? " + weight, bias" : "", c.eps != 1e-5 ? fmt::format(", eps {}", c.eps) : ""),
         uniform_inputs(shapes), [c](const Inputs& in) {
           return c.affine ? mg::layer_norm(in[0], c.normalized, in[1], in[2], c.eps)
                           : mg::layer_norm(in[0], c.normalized, Tensor(), Tensor(), c.eps);
         }});
  }
  e.cases.push_back({"(2, 4) weight only", uniform_inputs({{2, 4}, {4}}),
                     [](const Inputs& in) { return mg::layer_norm(in[0], {4}, in[1]); }});
  r.add(std::move(e));

  auto layer_norm = [](Shape normalized, bool affine) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      auto m = std::make_shared<nn::LayerNorm>(
          normalized, nn::LayerNormOptions{.elementwise_affine = affine, .dtype = mg::kFloat64});
      if (affine)  // away from the ones and zeros they start at: a swapped weight and bias would show
        m->load_state_dict({{"weight", mg::rand(normalized, {.dtype = mg::kFloat64}, &gen) + 0.5},
                            {"bias", mg::rand(normalized, {.dtype = mg::kFloat64}, &gen) - 0.5}});
      return m;
    };
  };
  r.add(ModuleEntry{.name = "LayerNorm",
                    .cases = {{"(4,), input (3, 4)", layer_norm({4}, true), {3, 4}},
                              {"(3, 4) no affine, input (2, 3, 4)", layer_norm({3, 4}, false), {2, 3, 4}}}});
}

// The padding row's gradient is zero by convention (PyTorch's), not the derivative: the padding
// cases zero the padded lookups' outputs, so the two agree, and the other rows are checked with
// the padding present. test_nn_seq.cpp checks the convention against PyTorch.
void add_embedding(Registry& r) {
  const Tensor rows = indices({1, 4, 1, 0, 2, 4}, {2, 3});  // repeats: gradients add up
  auto unpadded = [](int64_t pad) {                         // (2, 3, 1): 0 where rows is pad
    std::vector<double> keep{1, 4, 1, 0, 2, 4};
    for (double& k : keep) k = k == static_cast<double>(pad) ? 0.0 : 1.0;
    return mg::tensor(keep, {2, 3, 1}, {.dtype = mg::kFloat64});
  };
  OpEntry e{.name = "embedding"};
  e.cases.push_back(
      {"(5, 3) at (2, 3)", uniform_inputs({{5, 3}}), [=](const Inputs& in) { return mg::embedding(rows, in[0]); }});
  for (int64_t pad : {1, -1})
    e.cases.push_back({fmt::format("(5, 3) at (2, 3), padding_idx {}", pad), uniform_inputs({{5, 3}}),
                       [=, keep = unpadded(pad < 0 ? pad + 5 : pad)](const Inputs& in) {
                         return mg::embedding(rows, in[0], pad) * keep;
                       }});
  e.cases.push_back({"(5, 3) at a 0-d index", uniform_inputs({{5, 3}}),
                     [](const Inputs& in) { return mg::embedding(mg::tensor(std::vector<int64_t>{3}, {}), in[0]); }});
  e.cases.push_back({"(5, 3) at (0,)", uniform_inputs({{5, 3}}),
                     [](const Inputs& in) { return mg::embedding(indices({}, {0}), in[0]); }});
  r.add(std::move(e));

  auto embedding = [](std::optional<int64_t> padding_idx) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      return std::make_shared<nn::Embedding>(
          6, 3, nn::EmbeddingOptions{.padding_idx = padding_idx, .dtype = mg::kFloat64, .generator = &gen});
    };
  };
  r.add(ModuleEntry{
      .name = "Embedding",
      .cases = {{"6x3 at (2, 3)",
                 embedding(std::nullopt),
                 {},
                 nullptr,
                 [rows](nn::Module& m, const Inputs&) { return m(rows).tanh(); }},
                {"6x3 padding_idx 4 at (2, 3)",
                 embedding(4),
                 {},
                 nullptr,
                 [rows, keep = unpadded(4)](nn::Module& m, const Inputs&) { return m(rows).tanh() * keep; }}}});
}

// A bool mask from 0/1 values (true: may not attend).
Tensor bool_mask(std::vector<double> values, Shape shape) { return mg::tensor(values, shape).gt(0.5); }

// The tensors a module returns, flattened and joined: one output for the checker.
Tensor joined(const std::vector<Tensor>& outputs) {
  std::vector<Tensor> flat;
  for (const Tensor& t : outputs) flat.push_back(t.reshape({-1}));
  return mg::cat(flat);
}

void add_attention(Registry& r) {
  auto mha = [](int64_t embed, int64_t heads, bool bias) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      auto m = std::make_shared<nn::MultiheadAttention>(
          embed, heads, nn::MultiheadAttentionOptions{.bias = bias, .dtype = mg::kFloat64, .generator = &gen});
      if (bias)  // PyTorch starts the biases at zero, where a wrong bias gradient would not show
        for (Tensor b : {m->in_proj_bias, m->out_proj->bias}) nn::init::uniform_(b, -0.5, 0.5, &gen);
      return m;
    };
  };
  using MHA = nn::MultiheadAttention;
  const Tensor causal = nn::square_subsequent_mask(3, mg::kFloat64);
  const Tensor padding = bool_mask({0, 0, 0, 0, 0, 0, 0, 1, 1, 0}, {2, 5});
  const Tensor per_head = bool_mask({0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1,  // [2 * 2 heads, 2, 3]
                                     0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1},
                                    {4, 2, 3});
  r.add(ModuleEntry{.name = "MultiheadAttention",
                    .cases = {{"E 4, 2 heads, self, causal float mask",
                               mha(4, 2, true),
                               {},
                               uniform_inputs({{2, 3, 4}}),
                               [=](nn::Module& m, const Inputs& in) {
                                 const auto [y, w] = static_cast<MHA&>(m)(in[0], in[0], in[0], {}, true, causal);
                                 return joined({y, w});
                               }},
                              {"E 6, 3 heads, cross, bool key padding",
                               mha(6, 3, true),
                               {},
                               uniform_inputs({{2, 3, 6}, {2, 5, 6}, {2, 5, 6}}),
                               [=](nn::Module& m, const Inputs& in) {
                                 const auto [y, w] = static_cast<MHA&>(m)(in[0], in[1], in[2], padding);
                                 return joined({y, w});
                               }},
                              {"E 4, 2 heads, no bias, per-head bool mask",
                               mha(4, 2, false),
                               {},
                               uniform_inputs({{2, 2, 4}, {2, 3, 4}}),
                               [=](nn::Module& m, const Inputs& in) {
                                 return std::get<0>(static_cast<MHA&>(m)(in[0], in[1], in[1], {}, false, per_head));
                               }}}});
}

void add_recurrent(Registry& r) {
  auto make = [](bool lstm, int64_t layers, bool bias) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      const nn::RNNOptions o{.num_layers = layers, .bias = bias, .dtype = mg::kFloat64, .generator = &gen};
      if (lstm) return std::make_shared<nn::LSTM>(2, 3, o);
      return std::make_shared<nn::GRU>(2, 3, o);
    };
  };
  r.add(ModuleEntry{.name = "LSTM",
                    .cases = {{"2->3, 2 layers, initial state",
                               make(true, 2, true),
                               {},
                               uniform_inputs({{2, 3, 2}, {2, 2, 3}, {2, 2, 3}}),
                               [](nn::Module& m, const Inputs& in) {
                                 const auto [y, state] = static_cast<nn::LSTM&>(m)(in[0], {in[1], in[2]});
                                 return joined({y, std::get<0>(state), std::get<1>(state)});
                               }},
                              {"2->3 no bias, zero state, one step",
                               make(true, 1, false),
                               {},
                               uniform_inputs({{3, 1, 2}}),
                               [](nn::Module& m, const Inputs& in) {
                                 const auto [y, state] = static_cast<nn::LSTM&>(m)(in[0]);
                                 return joined({y, std::get<1>(state)});
                               }}}});
  r.add(ModuleEntry{
      .name = "GRU",
      .cases = {{"2->3, 2 layers, initial state",
                 make(false, 2, true),
                 {},
                 uniform_inputs({{2, 3, 2}, {2, 2, 3}}),
                 [](nn::Module& m, const Inputs& in) {
                   const auto [y, h] = static_cast<nn::GRU&>(m)(in[0], in[1]);
                   return joined({y, h});
                 }},
                {"2->3 no bias, zero state",
                 make(false, 1, false),
                 {},
                 uniform_inputs({{3, 2, 2}}),
                 [](nn::Module& m, const Inputs& in) { return std::get<0>(static_cast<nn::GRU&>(m)(in[0])); }}}});
}

}  // namespace

void add_sequence_models(Registry& r) {
  add_layer_norm(r);
  add_embedding(r);
  add_attention(r);
  add_recurrent(r);
}

}  // namespace minigrad::gradcheck_tool
