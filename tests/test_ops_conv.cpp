// Convolution, pooling and batch-norm forward values against PyTorch's, which
// tests/op_reference/conv.py wrote into conv.inc, in float64 and float32; and their errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;

namespace {

struct RefTensor {
  mg::Shape shape;
  std::vector<double> values;
};
struct RefCase {
  std::string label, op;
  std::vector<double> params;  // in the order run_case reads them
  std::vector<RefTensor> inputs, outputs;
};

#include "op_reference/conv.inc"

mg::Tensor make(const RefTensor& r, mg::DType dtype) {
  return mg::tensor(r.values, r.shape, {.dtype = mg::kFloat64}).to(dtype);
}

void require_close(const mg::Tensor& got, const RefTensor& want, double tol) {
  REQUIRE(got.shape() == want.shape);
  const auto v = got.to(mg::kFloat64).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": " << v[i] << " vs " << want.values[i]);
    REQUIRE(std::abs(v[i] - want.values[i]) <= tol * (1.0 + std::abs(want.values[i])));
  }
}

mg::Size2 pair(const std::vector<double>& p, size_t at) { return {int64_t(p[at]), int64_t(p[at + 1])}; }

// Runs the case's op on its inputs in `dtype`; returns its outputs as the case lists them.
std::vector<mg::Tensor> run_case(const RefCase& c, mg::DType dtype) {
  std::vector<mg::Tensor> in;
  for (const RefTensor& r : c.inputs) in.push_back(make(r, dtype));
  const auto& p = c.params;
  if (c.op == "conv2d") {
    return {mg::conv2d(in[0], in[1], in.size() > 2 ? in[2] : mg::Tensor(),
                       {.stride = pair(p, 0), .padding = pair(p, 2), .dilation = pair(p, 4), .groups = int64_t(p[6])})};
  }
  if (c.op == "conv_transpose2d") {
    return {mg::conv_transpose2d(in[0], in[1], in.size() > 2 ? in[2] : mg::Tensor(),
                                 {.stride = pair(p, 0),
                                  .padding = pair(p, 2),
                                  .output_padding = pair(p, 4),
                                  .groups = int64_t(p[6]),
                                  .dilation = pair(p, 7)})};
  }
  if (c.op == "max_pool2d") {
    auto [y, idx] = mg::max_pool2d_with_indices(in[0], pair(p, 0), pair(p, 2), pair(p, 4));
    REQUIRE(idx.dtype() == mg::kInt64);
    return {y, idx.to(mg::kFloat64)};
  }
  if (c.op == "avg_pool2d") return {mg::avg_pool2d(in[0], pair(p, 0), pair(p, 2), pair(p, 4))};
  if (c.op == "adaptive_avg_pool2d") return {mg::adaptive_avg_pool2d(in[0], pair(p, 0))};
  if (c.op == "batch_norm") {
    // Three training steps, then eval: [last training output, running mean, running var, eval output].
    const bool affine = p[0] != 0;
    const double momentum = p[1], eps = p[2];
    const int64_t C = in[0].size(1);
    mg::Tensor w = affine ? in[4] : mg::Tensor(), b = affine ? in[5] : mg::Tensor();
    mg::Tensor mean = mg::zeros({C}, {.dtype = dtype}), var = mg::ones({C}, {.dtype = dtype});
    mg::Tensor y;
    for (int step = 0; step < 3; ++step) y = mg::batch_norm(in[size_t(step)], mean, var, w, b, true, momentum, eps);
    return {y, mean, var, mg::batch_norm(in[3], mean, var, w, b, false, momentum, eps)};
  }
  FAIL("unknown op " << c.op);
  return {};
}

void check_against_torch(mg::DType dtype, double tol) {
  for (const RefCase& c : kRefCases) {
    INFO(c.op << ": " << c.label << " (" << mg::dtype_name(dtype) << ")");
    const auto outputs = run_case(c, dtype);
    REQUIRE(outputs.size() == c.outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      INFO("output " << i);
      require_close(outputs[i], c.outputs[i], tol);
    }
  }
}

}  // namespace

TEST_CASE("conv ops match PyTorch in float64", "[ops_conv]") { check_against_torch(mg::kFloat64, 1e-12); }

TEST_CASE("conv ops match PyTorch in float32", "[ops_conv]") { check_against_torch(mg::kFloat32, 2e-5); }

TEST_CASE("conv2d backward: the bias gradient sums every output position", "[ops_conv]") {
  mg::Tensor x = mg::randn({2, 3, 4, 4}).requires_grad_();
  mg::Tensor w = mg::randn({5, 3, 3, 3}).requires_grad_();
  mg::Tensor b = mg::zeros({5}).requires_grad_();
  mg::conv2d(x, w, b, {.padding = 1}).sum().backward();
  REQUIRE(b.grad().to_vector<float>() == std::vector<float>(5, 2 * 4 * 4));
  REQUIRE(x.grad().shape() == x.shape());
  REQUIRE(w.grad().shape() == w.shape());
}

TEST_CASE("max_pool2d: the first of tied maxima takes the gradient", "[ops_conv]") {
  mg::Tensor x = mg::tensor({1, 3, 3, 2}, {1, 1, 2, 2}).requires_grad_();
  mg::max_pool2d(x, 2).sum().backward();
  REQUIRE(x.grad().to_vector<float>() == std::vector<float>{0, 1, 0, 0});
}

TEST_CASE("conv ops name the op and the shapes in their errors", "[ops_conv]") {
  const mg::Tensor x = mg::zeros({2, 3, 5, 5});
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(mg::conv2d(mg::zeros({3, 5, 5}), mg::zeros({4, 3, 3, 3})),
                      Contains("conv2d: input (3, 5, 5) is not 4-D"));
  REQUIRE_THROWS_WITH(
      mg::conv2d(x, mg::zeros({4, 2, 3, 3})),
      Contains("conv2d: input (2, 3, 5, 5) has 3 channels, weight (4, 2, 3, 3) in 1 group(s) expects 2"));
  REQUIRE_THROWS_WITH(mg::conv2d(x, mg::zeros({4, 3, 3, 3}), mg::Tensor(), {.groups = 2}),
                      Contains("groups 2 must divide both 3 input and 4 output channels"));
  REQUIRE_THROWS_WITH(mg::conv2d(x, mg::zeros({4, 3, 7, 3})),
                      Contains("input (2, 3, 5, 5) padded by (0, 0) is smaller than the kernel (7, 3)"));
  REQUIRE_THROWS_WITH(mg::conv2d(x, mg::zeros({4, 3, 3, 3}), mg::zeros({3})),
                      Contains("conv2d: bias (3,) does not match the 4 output channels"));
  REQUIRE_THROWS_WITH(mg::conv2d(x, mg::zeros({4, 3, 3, 3}), mg::Tensor(), {.stride = 0}),
                      Contains("conv2d: stride (0, 0) must be positive"));
  REQUIRE_THROWS_WITH(mg::conv2d(x, mg::zeros({4, 3, 3, 3}, {.dtype = mg::kFloat64})), Contains("conv2d"));
  REQUIRE_THROWS_WITH(
      mg::conv_transpose2d(x, mg::zeros({4, 3, 3, 3})),
      Contains("conv_transpose2d: weight (4, 3, 3, 3) needs 4 input channels, input (2, 3, 5, 5) has 3"));
  REQUIRE_THROWS_WITH(mg::conv_transpose2d(x, mg::zeros({3, 3, 3, 3}), mg::Tensor(), {.output_padding = 1}),
                      Contains("output_padding (1, 1) must be smaller than the stride (1, 1) or the dilation (1, 1)"));
  REQUIRE_THROWS_WITH(mg::max_pool2d(x, 2, std::nullopt, 2),
                      Contains("max_pool2d: padding (2, 2) is more than half the kernel (2, 2)"));
  REQUIRE_THROWS_WITH(mg::avg_pool2d(mg::zeros({5, 5}), 2), Contains("avg_pool2d: input (5, 5) is not 3-D or 4-D"));
  REQUIRE_THROWS_WITH(mg::max_pool2d(x, 6),
                      Contains("max_pool2d: input (2, 3, 5, 5) padded by (0, 0) is smaller than the kernel (6, 6)"));
  REQUIRE_THROWS_WITH(mg::adaptive_avg_pool2d(x, 0),
                      Contains("adaptive_avg_pool2d: output size (0, 0) must be positive"));
  REQUIRE_THROWS_WITH(mg::max_pool2d(mg::zeros({2, 3}, {.dtype = mg::kInt64}).reshape({1, 1, 2, 3}), 2),
                      Contains("max_pool2d: a int64 tensor"));
  REQUIRE_THROWS_WITH(mg::batch_norm(x, mg::Tensor(), mg::Tensor(), mg::zeros({4})),
                      Contains("batch_norm: weight (4,) does not match the 3 channels of input (2, 3, 5, 5)"));
  REQUIRE_THROWS_WITH(mg::batch_norm(x, mg::Tensor(), mg::Tensor()),
                      Contains("batch_norm: eval mode needs running_mean and running_var"));
  REQUIRE_THROWS_WITH(mg::batch_norm(mg::zeros({1, 3}), mg::Tensor(), mg::Tensor(), mg::Tensor(), mg::Tensor(), true),
                      Contains("batch_norm: training needs more than one value per channel, input (1, 3)"));
}
