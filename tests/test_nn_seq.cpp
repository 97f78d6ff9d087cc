// Sequence-model layers against PyTorch's numbers (tests/op_reference/seq.py wrote seq.inc), in
// float32 and float64: layer_norm / LayerNorm, embedding / Embedding; their errors and the
// PyTorch behaviours a user relies on (initial values, the padding row).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
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
  nn::StateDict params(mg::DType dtype) const {
    nn::StateDict state;
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
