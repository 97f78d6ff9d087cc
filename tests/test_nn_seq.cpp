// Sequence-model layers against PyTorch's numbers (tests/op_reference/seq.py wrote seq.inc), in
// float32 and float64: layer_norm / LayerNorm, embedding / Embedding, MultiheadAttention, LSTM,
// GRU (their parameters loaded from PyTorch's state_dict names); their errors and the PyTorch
// behaviours a user relies on (initial values, the padding row, masks, dropout between layers).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;
using Catch::Matchers::Contains;

namespace {

struct RefTensor {
  std::string name;
  mg::Shape shape;
  std::vector<double> values;
};

struct RefCase {
  std::string name;
  std::vector<RefTensor> tensors;

  const RefTensor& ref(const std::string& key) const {
    for (const RefTensor& t : tensors)
      if (t.name == key) return t;
    FAIL("reference case '" << name << "' has no tensor '" << key << "'");
    throw;  // not reached
  }
  // The named tensor in `dtype` (int64 for indices), requiring grad when asked.
  mg::Tensor get(const std::string& key, mg::DType dtype = mg::kFloat64, bool requires_grad = false) const {
    const RefTensor& t = ref(key);
    if (dtype == mg::kInt64) return mg::tensor(std::vector<int64_t>(t.values.begin(), t.values.end()), t.shape);
    mg::Tensor out = mg::tensor(t.values, t.shape, {.dtype = dtype});
    return requires_grad ? out.requires_grad_() : out;
  }
  // The parameters ("param:<name>") as a state dict in `dtype`.
  mg::StateDict params(mg::DType dtype) const {
    mg::StateDict state;
    for (const RefTensor& t : tensors)
      if (t.name.starts_with("param:")) state[t.name.substr(6)] = get(t.name, dtype);
    return state;
  }
};

#include "op_reference/seq.inc"

const RefCase& ref_case(const std::string& name) {
  for (const RefCase& c : kSeqCases)
    if (c.name == name) return c;
  FAIL("no reference case '" << name << "'");
  throw;  // not reached
}

double tolerance(mg::DType dtype) { return dtype == mg::kFloat32 ? 2e-5 : 1e-12; }

// `actual` equals the reference tensor `key` elementwise, relative to the reference's scale.
void check_close(const mg::Tensor& actual, const RefCase& c, const std::string& key) {
  REQUIRE(actual.defined());
  const RefTensor& expected = c.ref(key);
  INFO(c.name << ": " << key);
  REQUIRE(actual.shape() == expected.shape);
  const std::vector<double> got = actual.to(mg::kFloat64).to_vector<double>();
  double scale = 1.0;
  for (double v : expected.values) scale = std::max(scale, std::abs(v));
  const double tol = tolerance(actual.dtype()) * scale;
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(expected.values[i]).margin(tol).epsilon(0));
  }
}

// Backpropagates sum(output * cot:<key>) from each output checked against the reference.
void backward_with_cotangents(const RefCase& c, const std::vector<std::pair<std::string, mg::Tensor>>& outputs) {
  mg::Tensor total;
  for (const auto& [key, out] : outputs) {
    const mg::Tensor term = (out * c.get("cot:" + key, out.dtype())).sum();
    total = total.defined() ? total + term : term;
  }
  total.backward();
}

// Each parameter's gradient against "grad:param:<name>".
void check_param_grads(const nn::Module& m, const RefCase& c) {
  for (const auto& [name, p] : m.named_parameters()) check_close(p.grad(), c, "grad:param:" + name);
}

// A module of type M with the case's parameters, in dtype.
template <typename M, typename... Args>
std::shared_ptr<M> loaded(const RefCase& c, mg::DType dtype, Args... args) {
  auto m = std::make_shared<M>(args...);
  m->load_state_dict(c.params(dtype));
  return m;
}

const auto kDtypes = {mg::kFloat32, mg::kFloat64};

}  // namespace

TEST_CASE("layer_norm matches PyTorch: values and gradients", "[nn][seq]") {
  for (mg::DType dtype : kDtypes) {
    SECTION(std::string(mg::dtype_name(dtype))) {
      const RefCase& affine = ref_case("layer_norm (2, 3, 4) over (3, 4)");
      const mg::Tensor x = affine.get("x", dtype, true), w = affine.get("weight", dtype, true),
                       b = affine.get("bias", dtype, true);
      const mg::Tensor y = mg::layer_norm(x, {3, 4}, w, b, 1e-5);
      check_close(y, affine, "out:y");
      backward_with_cotangents(affine, {{"y", y}});
      check_close(x.grad(), affine, "grad:x");
      check_close(w.grad(), affine, "grad:weight");
      check_close(b.grad(), affine, "grad:bias");

      const RefCase& plain = ref_case("layer_norm (3, 5) over (5,) no affine, eps 0.01");
      const mg::Tensor x2 = plain.get("x", dtype, true);
      const mg::Tensor y2 = mg::layer_norm(x2, {5}, mg::Tensor(), mg::Tensor(), 1e-2);
      check_close(y2, plain, "out:y");
      backward_with_cotangents(plain, {{"y", y2}});
      check_close(x2.grad(), plain, "grad:x");
    }
  }
}

TEST_CASE("LayerNorm: PyTorch's parameters and initial values, loaded weights give PyTorch's output", "[nn][seq]") {
  nn::LayerNorm ln({3, 4});
  const nn::NamedTensors named = ln.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(ln.weight.to_vector<float>() == std::vector<float>(12, 1.0f));
  CHECK(ln.bias.to_vector<float>() == std::vector<float>(12, 0.0f));
  CHECK(nn::LayerNorm({5}, {.elementwise_affine = false}).parameters().empty());

  for (mg::DType dtype : kDtypes) {
    const RefCase& c = ref_case("layer_norm (2, 3, 4) over (3, 4)");
    nn::LayerNorm m({3, 4}, {.dtype = dtype});
    m.load_state_dict({{"weight", c.get("weight", dtype)}, {"bias", c.get("bias", dtype)}});
    check_close(m(c.get("x", dtype)), c, "out:y");
  }
}

TEST_CASE("layer_norm: NaN stays in its row, constant rows normalize to zero", "[nn][seq]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const mg::Tensor x = mg::tensor({1.0, nan, 3.0, 2.0, 2.0, 2.0}, {2, 3}, {.dtype = mg::kFloat64});
  const std::vector<double> y = mg::layer_norm(x, {3}).to_vector<double>();
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(y[i]));
  for (int i = 3; i < 6; ++i) CHECK(y[i] == 0.0);
}

TEST_CASE("embedding matches PyTorch; the padding row gets no gradient", "[nn][seq]") {
  const RefCase& c = ref_case("embedding (6, 3) at (2, 4) padding_idx 2");
  for (mg::DType dtype : kDtypes) {
    SECTION(std::string(mg::dtype_name(dtype))) {
      const mg::Tensor w = c.get("weight", dtype, true);
      const mg::Tensor y = mg::embedding(c.get("indices", mg::kInt64), w, 2);
      check_close(y, c, "out:y");
      backward_with_cotangents(c, {{"y", y}});
      check_close(w.grad(), c, "grad:weight");
      const std::vector<double> g = w.grad().to(mg::kFloat64).to_vector<double>();
      CHECK(g[6] == 0.0);  // row 2 is looked up three times
      CHECK(g[7] == 0.0);
      CHECK(g[8] == 0.0);
    }
  }
}

TEST_CASE("Embedding: N(0, 1) weights, a zero padding row that training leaves at zero", "[nn][seq]") {
  mg::Generator gen(3);
  nn::Embedding emb(50, 8, {.padding_idx = -1, .generator = &gen});
  CHECK(emb.padding_idx == 49);
  CHECK(emb.named_parameters()[0].first == "weight");
  const std::vector<float> w = emb.weight.to_vector<float>();
  double sum = 0, sq = 0;
  for (float v : w) sum += v, sq += v * v;
  const double n = static_cast<double>(w.size()), mean = sum / n;
  CHECK(std::abs(mean) < 0.15);
  CHECK(std::sqrt(sq / n - mean * mean) == Approx(1.0).margin(0.15));
  for (int j = 0; j < 8; ++j) CHECK(w[49 * 8 + j] == 0.0f);

  const mg::Tensor idx = mg::tensor(std::vector<int64_t>{49, 3, 49, 0, 3, 7}, {2, 3});
  const mg::Tensor y = emb(idx);
  CHECK(y.shape() == mg::Shape{2, 3, 8});
  CHECK(emb.output_shape(mg::Shape{-1, 3}) == mg::Shape{-1, 3, 8});
  mg::optim::SGD sgd(emb.parameters(), {.lr = 0.5});
  (y * y + y).sum().backward();
  sgd.step();
  const std::vector<float> after = emb.weight.to_vector<float>();
  for (int j = 0; j < 8; ++j) CHECK(after[49 * 8 + j] == 0.0f);
  CHECK(after[3 * 8] != w[3 * 8]);
  CHECK(after[1 * 8] == w[1 * 8]);  // row 1 was not looked up
}

TEST_CASE("layer_norm, embedding and their modules refuse bad input, naming the op and shapes", "[nn][seq]") {
  const mg::Tensor x = mg::ones({2, 3, 4});
  CHECK_THROWS_WITH(mg::layer_norm(x, {3}), Contains("layer_norm") && Contains("(2, 3, 4)") && Contains("(3,)"));
  CHECK_THROWS_WITH(mg::layer_norm(x, {}), Contains("does not end in normalized_shape ()"));
  CHECK_THROWS_WITH(mg::layer_norm(x, {2, 3, 4, 1}), Contains("normalized_shape (2, 3, 4, 1)"));
  CHECK_THROWS_WITH(mg::layer_norm(x, {4}, mg::ones({3})), Contains("weight of shape (3,)"));
  CHECK_THROWS_WITH(mg::layer_norm(x, {4}, mg::ones({4}), mg::ones({4}, {.dtype = mg::kFloat64})),
                    Contains("layer_norm: dtypes differ"));
  CHECK_THROWS_WITH(mg::layer_norm(x, {4}, {}, {}, -1.0), Contains("eps must be >= 0"));
  CHECK_THROWS_WITH(mg::layer_norm(mg::Tensor(), {4}), Contains("layer_norm: tensor is undefined"));
  CHECK_THROWS_WITH(nn::LayerNorm(mg::Shape{}), Contains("at least one dimension"));
  CHECK_THROWS_WITH(nn::LayerNorm({4, 0}), Contains("(4, 0) must be positive"));
  nn::LayerNorm ln({5});
  CHECK_THROWS_WITH(ln(x), Contains("LayerNorm (5,)") && Contains("(2, 3, 4)"));

  const mg::Tensor w = mg::ones({5, 2});
  const mg::Tensor idx = mg::tensor(std::vector<int64_t>{0, 5, 1}, {3});
  CHECK_THROWS_WITH(mg::embedding(idx, w), Contains("embedding: index 5 at position 1 is out of range for 5"));
  CHECK_THROWS_WITH(mg::embedding(mg::tensor(std::vector<int64_t>{-1}, {1}), w), Contains("index -1"));
  CHECK_THROWS_WITH(mg::embedding(mg::ones({3}), w), Contains("embedding: indices must be int64, got float32 (3,)"));
  CHECK_THROWS_WITH(mg::embedding(idx, mg::ones({5})), Contains("embedding: weight must be a 2-D float tensor"));
  CHECK_THROWS_WITH(mg::embedding(mg::tensor(std::vector<int64_t>{0}, {1}), w, 5),
                    Contains("padding_idx 5 is out of range for 5 embeddings"));
  CHECK_THROWS_WITH(nn::Embedding(0, 4), Contains("Embedding: sizes must be positive"));
  CHECK_THROWS_WITH(nn::Embedding(4, 2, {.padding_idx = -5}), Contains("padding_idx -5 is out of range"));
  nn::Embedding emb(4, 2);
  CHECK_THROWS_WITH(emb(mg::tensor(std::vector<int64_t>{4}, {1})), Contains("Embedding 4x2") && Contains("index 4"));
}

TEST_CASE("MultiheadAttention matches PyTorch: causal and key padding bool masks, cross attention with a float mask",
          "[nn][seq]") {
  for (mg::DType dtype : kDtypes) {
    SECTION(std::string(mg::dtype_name(dtype))) {
      const RefCase& self = ref_case("MultiheadAttention 6/2 self, causal bool mask, key padding");
      auto mha = loaded<nn::MultiheadAttention>(self, dtype, 6, 2, nn::MultiheadAttentionOptions{.dtype = dtype});
      const mg::Tensor x = self.get("x", dtype, true);
      const mg::Tensor causal = self.get("attn_mask").gt(0.5), padding = self.get("key_padding_mask").gt(0.5);
      const auto [y, w] = (*mha)(x, x, x, padding, true, causal);
      check_close(y, self, "out:y");
      check_close(w, self, "out:weights");
      backward_with_cotangents(self, {{"y", y}, {"weights", w}});
      check_close(x.grad(), self, "grad:x");
      check_param_grads(*mha, self);

      const RefCase& cross = ref_case("MultiheadAttention 6/3 cross, float mask");
      auto mha3 = loaded<nn::MultiheadAttention>(cross, dtype, 6, 3, nn::MultiheadAttentionOptions{.dtype = dtype});
      const mg::Tensor q = cross.get("query", dtype, true), k = cross.get("key", dtype, true),
                       v = cross.get("value", dtype, true);
      const auto [y3, w3] = (*mha3)(q, k, v, {}, true, cross.get("attn_mask", dtype));
      check_close(y3, cross, "out:y");
      check_close(w3, cross, "out:weights");
      backward_with_cotangents(cross, {{"y", y3}, {"weights", w3}});
      check_close(q.grad(), cross, "grad:query");
      check_close(k.grad(), cross, "grad:key");
      check_close(v.grad(), cross, "grad:value");
      check_param_grads(*mha3, cross);
    }
  }
}

TEST_CASE("MultiheadAttention: PyTorch's parameters and init, the causal mask, need_weights, errors", "[nn][seq]") {
  nn::MultiheadAttention mha(8, 2);
  std::vector<std::string> names;
  for (const auto& [name, p] : mha.named_parameters()) names.push_back(name + mg::shape_str(p.shape()));
  CHECK(names == std::vector<std::string>{"in_proj_weight(24, 8)", "in_proj_bias(24,)", "out_proj.weight(8, 8)",
                                          "out_proj.bias(8,)"});
  CHECK(mha.in_proj_bias.to_vector<float>() == std::vector<float>(24, 0.0f));
  CHECK(mha.out_proj->bias.to_vector<float>() == std::vector<float>(8, 0.0f));
  const double bound = std::sqrt(6.0 / (24 + 8));  // xavier_uniform_ over [3E, E]
  for (float v : mha.in_proj_weight.to_vector<float>()) CHECK(std::abs(v) <= bound);

  const double inf = std::numeric_limits<double>::infinity();
  CHECK(nn::square_subsequent_mask(3, mg::kFloat64).to_vector<double>() ==
        std::vector<double>{0, -inf, -inf, 0, 0, -inf, 0, 0, 0});

  // A float -inf mask and the bool mask it stands for agree; without weights, none are returned.
  const mg::Tensor x = mg::randn({2, 4, 8});
  const auto [y_float, w_float] = mha(x, x, x, {}, true, nn::square_subsequent_mask(4));
  const auto [y_bool, w_none] = mha(x, x, x, {}, false, nn::square_subsequent_mask(4).lt(0.0));
  CHECK(y_float.to_vector<float>() == y_bool.to_vector<float>());
  CHECK_FALSE(w_none.defined());
  const std::vector<float> w = w_float.to_vector<float>();  // [2, 4, 4]: row i attends to j <= i
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) CHECK(w[i * 4 + j] == 0.0f);

  CHECK_THROWS_WITH(nn::MultiheadAttention(6, 4), Contains("embed_dim 6 must be a positive multiple of num_heads 4"));
  CHECK_THROWS_WITH(
      mha(mg::ones({2, 4, 6}), x, x),
      Contains("MultiheadAttention 8/2 heads") && Contains("query must be [batch, length, 8], got shape (2, 4, 6)"));
  CHECK_THROWS_WITH(mha(x, mg::ones({2, 3, 8}), x), Contains("key and value the length"));
  CHECK_THROWS_WITH(mha(x, x, x, mg::ones({2, 5})), Contains("key_padding_mask of shape (2, 5) must be (2, 4)"));
  CHECK_THROWS_WITH(mha(x, x, x, {}, true, mg::ones({4, 5})),
                    Contains("attn_mask of shape (4, 5) must be (4, 4) or (4, 4, 4)"));
}

TEST_CASE("LSTM and GRU match PyTorch: two layers with an initial state, no bias from zeros", "[nn][seq]") {
  for (mg::DType dtype : kDtypes) {
    SECTION(std::string(mg::dtype_name(dtype))) {
      for (const std::string kind : {"LSTM", "GRU"}) {
        for (const std::string& name : {kind + " 3->4, 2 layers, initial state", kind + " 3->4 no bias, zero state"}) {
          const RefCase& c = ref_case(name);
          const bool two = name.find("2 layers") != std::string::npos;
          const nn::RNNOptions o{.num_layers = two ? 2 : 1, .bias = two, .dtype = dtype};
          const mg::Tensor x = c.get("x", dtype, true);
          const mg::Tensor h0 = two ? c.get("h0", dtype, true) : mg::Tensor();
          if (kind == "LSTM") {
            auto lstm = loaded<nn::LSTM>(c, dtype, 3, 4, o);
            const mg::Tensor c0 = two ? c.get("c0", dtype, true) : mg::Tensor();
            const auto [y, state] = (*lstm)(x, {h0, c0});
            const auto [h, cell] = state;
            check_close(y, c, "out:y");
            check_close(h, c, "out:h");
            check_close(cell, c, "out:c");
            backward_with_cotangents(c, {{"y", y}, {"h", h}, {"c", cell}});
            if (two) check_close(c0.grad(), c, "grad:c0");
            check_param_grads(*lstm, c);
          } else {
            auto gru = loaded<nn::GRU>(c, dtype, 3, 4, o);
            const auto [y, h] = (*gru)(x, h0);
            check_close(y, c, "out:y");
            check_close(h, c, "out:h");
            backward_with_cotangents(c, {{"y", y}, {"h", h}});
            check_param_grads(*gru, c);
          }
          check_close(x.grad(), c, "grad:x");
          if (two) check_close(h0.grad(), c, "grad:h0");
        }
      }
    }
  }
}

TEST_CASE("LSTM and GRU: PyTorch's parameter names and init, dropout between layers, errors", "[nn][seq]") {
  nn::LSTM lstm(5, 4, {.num_layers = 2});
  std::vector<std::string> names;
  for (const auto& [name, p] : lstm.named_parameters()) names.push_back(name + mg::shape_str(p.shape()));
  CHECK(names == std::vector<std::string>{"weight_ih_l0(16, 5)", "weight_hh_l0(16, 4)", "bias_ih_l0(16,)",
                                          "bias_hh_l0(16,)", "weight_ih_l1(16, 4)", "weight_hh_l1(16, 4)",
                                          "bias_ih_l1(16,)", "bias_hh_l1(16,)"});
  for (const mg::Tensor& p : lstm.parameters())
    for (float v : p.to_vector<float>()) CHECK(std::abs(v) <= 0.5f);  // U(+-1/sqrt(hidden))
  CHECK(nn::GRU(5, 4, {.bias = false}).named_parameters().size() == 2);

  // Dropout acts between layers in training only: eval matches the same weights without dropout.
  mg::Generator gen(4);
  nn::GRU dropped(3, 4, {.num_layers = 2, .dropout = 0.5, .generator = &gen});
  nn::GRU plain(3, 4, {.num_layers = 2});
  plain.load_state_dict(dropped.state_dict());
  const mg::Tensor x = mg::randn({2, 5, 3});
  const auto train_out = std::get<0>(dropped(x)).to_vector<float>();
  dropped.eval();
  const auto eval_out = std::get<0>(dropped(x)).to_vector<float>();
  CHECK(eval_out == std::get<0>(plain(x)).to_vector<float>());
  CHECK(train_out != eval_out);

  CHECK_THROWS_WITH(nn::LSTM(0, 4), Contains("LSTM: input_size 0"));
  CHECK_THROWS_WITH(nn::GRU(3, 4, {.dropout = 1.5}), Contains("GRU: dropout must be in [0, 1], got 1.5"));
  CHECK_THROWS_WITH(lstm(mg::ones({2, 3, 4})), Contains("LSTM 5->4, 2 layers") &&
                                                   Contains("input must be [batch, time > 0, 5], got shape (2, 3, 4)"));
  CHECK_THROWS_WITH(lstm(mg::ones({2, 0, 5})), Contains("time > 0"));
  CHECK_THROWS_WITH(lstm(mg::ones({2, 3, 5}), {mg::zeros({1, 2, 4}), mg::Tensor()}),
                    Contains("h0 of shape (1, 2, 4) must be (2, 2, 4)"));
  CHECK_THROWS_WITH(plain(x, mg::zeros({2, 3, 4})), Contains("h0 of shape (2, 3, 4) must be (2, 2, 4)"));
}
