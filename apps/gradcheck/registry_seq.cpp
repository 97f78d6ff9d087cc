// Registry entries of the sequence-model layers and their ops: layer_norm, embedding, LayerNorm,
// Embedding.
#include "registry.h"

namespace gradcheck_tool {

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
    e.cases.push_back({fmt::format("{} over {}{}{}", mg::shape_str(c.x), mg::shape_str(c.normalized),
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
      auto m = std::make_shared<nn::LayerNorm>(normalized, nn::LayerNormOptions{.elementwise_affine = affine, .dtype = mg::kFloat64});
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
  auto unpadded = [](int64_t pad) {  // (2, 3, 1): 0 where rows is pad
    std::vector<double> keep{1, 4, 1, 0, 2, 4};
    for (double& k : keep) k = k == static_cast<double>(pad) ? 0.0 : 1.0;
    return mg::tensor(keep, {2, 3, 1}, {.dtype = mg::kFloat64});
  };
  OpEntry e{.name = "embedding"};
  e.cases.push_back({"(5, 3) at (2, 3)", uniform_inputs({{5, 3}}),
                     [=](const Inputs& in) { return mg::embedding(rows, in[0]); }});
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
  r.add(ModuleEntry{.name = "Embedding",
                    .cases = {{"6x3 at (2, 3)", embedding(std::nullopt), {}, nullptr,
                               [rows](nn::Module& m, const Inputs&) { return m(rows).tanh(); }},
                              {"6x3 padding_idx 4 at (2, 3)", embedding(4), {}, nullptr,
                               [rows, keep = unpadded(4)](nn::Module& m, const Inputs&) { return m(rows).tanh() * keep; }}}});
}

}  // namespace

void add_sequence_models(Registry& r) {
  add_layer_norm(r);
  add_embedding(r);
}

}  // namespace gradcheck_tool
