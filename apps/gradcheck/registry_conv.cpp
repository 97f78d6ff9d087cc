// Registry entries of the convolution, pooling and batch-norm ops (minigrad/conv.h).
#include "registry.h"

#include <type_traits>

namespace minigrad::gradcheck_tool {

using Inputs = std::vector<mg::Tensor>;
using mg::Shape;
using mg::Tensor;

namespace {

OpCase conv_case(std::string label, std::vector<Shape> shapes, mg::GradcheckFn fn) {
  return {std::move(label), uniform_inputs(std::move(shapes)), std::move(fn)};
}

void add_convolutions(Registry& r) {
  OpEntry conv{.name = "conv2d"};
  conv.cases = {
      conv_case("(2, 3, 5, 6) * (4, 3, 3, 3) + (4,)", {{2, 3, 5, 6}, {4, 3, 3, 3}, {4}},
                [](const Inputs& in) { return mg::conv2d(in[0], in[1], in[2]); }),
      conv_case("stride 2, padding 1", {{1, 2, 6, 5}, {3, 2, 3, 3}, {3}},
                [](const Inputs& in) { return mg::conv2d(in[0], in[1], in[2], {.stride = 2, .padding = 1}); }),
      conv_case("stride (1, 2), padding (2, 1), dilation (2, 1)", {{2, 2, 5, 6}, {2, 2, 3, 2}, {2}},
                [](const Inputs& in) {
                  return mg::conv2d(in[0], in[1], in[2], {.stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 1}});
                }),
      conv_case("groups 2, no bias", {{2, 4, 4, 4}, {6, 2, 3, 3}},
                [](const Inputs& in) { return mg::conv2d(in[0], in[1], Tensor(), {.padding = 1, .groups = 2}); }),
      conv_case("1x1 (the image is the column matrix)", {{2, 3, 3, 2}, {4, 3, 1, 1}, {4}},
                [](const Inputs& in) { return mg::conv2d(in[0], in[1], in[2]); }),
      conv_case("kernel wider than the image, size-1 batch", {{1, 1, 2, 3}, {2, 1, 3, 3}},
                [](const Inputs& in) { return mg::conv2d(in[0], in[1], Tensor(), {.padding = 1}); }),
  };
  r.add(std::move(conv));

  OpEntry transpose{.name = "conv_transpose2d"};
  transpose.cases = {
      conv_case("(2, 3, 3, 4) * (3, 2, 3, 3) + (2,)", {{2, 3, 3, 4}, {3, 2, 3, 3}, {2}},
                [](const Inputs& in) { return mg::conv_transpose2d(in[0], in[1], in[2]); }),
      conv_case("stride 2, padding 1, output_padding 1", {{1, 2, 3, 3}, {2, 3, 3, 3}, {3}},
                [](const Inputs& in) {
                  return mg::conv_transpose2d(in[0], in[1], in[2], {.stride = 2, .padding = 1, .output_padding = 1});
                }),
      conv_case("groups 2, dilation (1, 2), no bias", {{2, 4, 3, 3}, {4, 1, 2, 3}},
                [](const Inputs& in) {
                  return mg::conv_transpose2d(in[0], in[1], Tensor(), {.groups = 2, .dilation = {1, 2}});
                }),
  };
  r.add(std::move(transpose));

  OpEntry weight{.name = "conv2d_weight"};
  weight.cases = {
      conv_case("input (2, 3, 5, 5), grad_output (2, 4, 3, 3)", {{2, 3, 5, 5}, {2, 4, 3, 3}},
                [](const Inputs& in) {
                  return mg::conv2d_weight(in[0], {4, 3, 3, 3}, in[1]);
                }),
      conv_case("groups 2, stride 2, padding 1", {{2, 4, 5, 5}, {2, 4, 3, 3}},
                [](const Inputs& in) {
                  return mg::conv2d_weight(in[0], {4, 2, 3, 3}, in[1], {.stride = 2, .padding = 1, .groups = 2});
                }),
  };
  r.add(std::move(weight));
}

void add_pools(Registry& r) {
  // The first of tied maxima takes the gradient: 1 there and 0 at the others, each between the
  // one-sided differences.
  OpEntry max{.name = "max_pool2d", .policy = {.kink_values = {0.0, 1.0}}};
  max.cases = {
      conv_case("(2, 3, 5, 5) kernel 2", {{2, 3, 5, 5}}, [](const Inputs& in) { return mg::max_pool2d(in[0], 2); }),
      conv_case("kernel 3, stride 2, padding 1", {{1, 2, 6, 5}},
                [](const Inputs& in) { return mg::max_pool2d(in[0], 3, 2, 1); }),
      conv_case("(3, 5, 4) kernel (2, 3), stride (1, 2)", {{3, 5, 4}},
                [](const Inputs& in) {
                  return mg::max_pool2d(in[0], {2, 3}, mg::Size2{1, 2});
                }),
      {"(1, 1, 3, 3) ties, kernel 2 stride 1",
       fixed_inputs({{1.0, 1.0, 0.0, 1.0, 2.0, 2.0, -1.0, 2.0, 2.0}}, {{1, 1, 3, 3}}),
       [](const Inputs& in) { return mg::max_pool2d(in[0], 2, 1); }, false},
  };
  r.add(std::move(max));

  OpEntry avg{.name = "avg_pool2d"};
  avg.cases = {
      conv_case("(2, 3, 5, 5) kernel 2", {{2, 3, 5, 5}}, [](const Inputs& in) { return mg::avg_pool2d(in[0], 2); }),
      conv_case("kernel 3, stride 2, padding 1 (counted as zeros)", {{1, 2, 5, 6}},
                [](const Inputs& in) { return mg::avg_pool2d(in[0], 3, 2, 1); }),
      conv_case("(3, 5, 4) kernel (2, 3), stride 1", {{3, 5, 4}},
                [](const Inputs& in) {
                  return mg::avg_pool2d(in[0], {2, 3}, 1);
                }),
  };
  r.add(std::move(avg));
  r.add({.name = "avg_pool2d_backward",
         .cases = {conv_case("(1, 2, 3, 3) -> (1, 2, 5, 6), kernel 3, stride 2, padding 1", {{1, 2, 3, 3}},
                             [](const Inputs& in) {
                               return mg::avg_pool2d_backward(in[0], {1, 2, 5, 6}, 3, 2, 1);
                             })}});

  OpEntry adaptive{.name = "adaptive_avg_pool2d"};
  adaptive.cases = {
      conv_case("(2, 3, 7, 5) -> (3, 2), overlapping windows", {{2, 3, 7, 5}},
                [](const Inputs& in) {
                  return mg::adaptive_avg_pool2d(in[0], {3, 2});
                }),
      conv_case("(2, 3, 4, 4) -> 1 (global)", {{2, 3, 4, 4}},
                [](const Inputs& in) { return mg::adaptive_avg_pool2d(in[0], 1); }),
      conv_case("(2, 2, 3) -> (4, 5), upsampling", {{2, 2, 3}},
                [](const Inputs& in) {
                  return mg::adaptive_avg_pool2d(in[0], {4, 5});
                }),
  };
  r.add(std::move(adaptive));
  r.add({.name = "adaptive_avg_pool2d_backward",
         .cases = {conv_case("(2, 3, 3, 2) -> (2, 3, 7, 5)", {{2, 3, 3, 2}}, [](const Inputs& in) {
           return mg::adaptive_avg_pool2d_backward(in[0], {2, 3, 7, 5});
         })}});
}

void add_batch_norm(Registry& r) {
  OpEntry bn{.name = "batch_norm"};
  bn.cases = {
      conv_case("training (5, 3), no weight or bias", {{5, 3}},
                [](const Inputs& in) { return mg::batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }),
      conv_case("training (2, 2, 3) with running statistics", {{2, 2, 3}, {2}, {2}},
                [](const Inputs& in) {
                  Tensor mean = mg::zeros({2}, {.dtype = mg::kFloat64}), var = mg::ones({2}, {.dtype = mg::kFloat64});
                  return mg::batch_norm(in[0], mean, var, in[1], in[2], true, 0.3);
                }),
  };
  // With and without the fused ReLU (nn::BatchNorm2d then nn::ReLU in a Sequential): its gate in
  // both passes.
  for (const auto activation : {mg::Activation::None, mg::Activation::ReLU}) {
    const std::string act = activation == mg::Activation::ReLU ? " + relu" : "";
    bn.cases.push_back(
        conv_case("training (4, 3, 2, 2) with weight and bias" + act, {{4, 3, 2, 2}, {3}, {3}}, [=](const Inputs& in) {
          return mg::batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true, 0.1, 1e-5, activation);
        }));
    bn.cases.push_back(
        conv_case("eval (3, 2, 2, 2) with running statistics" + act, {{3, 2, 2, 2}, {2}, {2}}, [=](const Inputs& in) {
          const Tensor mean = mg::tensor({0.5, -0.25}, {.dtype = mg::kFloat64});
          const Tensor var = mg::tensor({2.0, 0.5}, {.dtype = mg::kFloat64});
          return mg::batch_norm(in[0], mean, var, in[1], in[2], false, 0.1, 1e-5, activation);
        }));
  }
  r.add(std::move(bn));
}

template <typename M, typename... Args>
std::function<std::shared_ptr<mg::nn::Module>(mg::Generator&)> module(Args... args) {
  return [=](mg::Generator&) { return std::make_shared<M>(args...); };
}

void add_modules(Registry& r) {
  namespace nn = mg::nn;
  r.add(ModuleEntry{
      .name = "Conv2d",
      .cases = {{"2->3 3x3 pad 1, input (2, 2, 4, 5)",
                 [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                   return std::make_shared<nn::Conv2d>(
                       2, 3, 3, nn::Conv2dOptions{.padding = 1, .dtype = mg::kFloat64, .generator = &gen});
                 },
                 {2, 2, 4, 5}},
                {"4->2 3x2 stride 2 groups 2 no bias, input (1, 4, 5, 5)",
                 [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                   return std::make_shared<nn::Conv2d>(
                       4, 2, mg::Size2{3, 2},
                       nn::Conv2dOptions{
                           .stride = 2, .groups = 2, .bias = false, .dtype = mg::kFloat64, .generator = &gen});
                 },
                 {1, 4, 5, 5}}}});
  r.add(ModuleEntry{
      .name = "ConvTranspose2d",
      .cases = {{"3->2 3x3 stride 2 pad 1 output_padding 1, input (2, 3, 3, 3)",
                 [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                   return std::make_shared<nn::ConvTranspose2d>(
                       3, 2, 3,
                       nn::ConvTranspose2dOptions{
                           .stride = 2, .padding = 1, .output_padding = 1, .dtype = mg::kFloat64, .generator = &gen});
                 },
                 {2, 3, 3, 3}}}});
  ModuleEntry max_pool{.name = "MaxPool2d",
                       .cases = {{"2x2, input (2, 3, 4, 5)", module<nn::MaxPool2d>(mg::Size2(2)), {2, 3, 4, 5}}}};
  max_pool.policy.kink_values = {0.0, 1.0};  // ties, as max_pool2d's
  r.add(std::move(max_pool));
  r.add(ModuleEntry{.name = "AvgPool2d",
                    .cases = {{"3x3 stride 2 pad 1, input (2, 3, 5, 5)",
                               module<nn::AvgPool2d>(mg::Size2(3), std::optional<mg::Size2>(2), mg::Size2(1)),
                               {2, 3, 5, 5}}}});
  r.add(ModuleEntry{
      .name = "AdaptiveAvgPool2d",
      .cases = {{"1 (global), input (2, 3, 4, 5)", module<nn::AdaptiveAvgPool2d>(mg::Size2(1)), {2, 3, 4, 5}}}});
  // Random affine parameters and, for eval, random running statistics.
  const auto batch_norm = []<typename BN>(std::type_identity<BN>, int64_t features, bool affine, bool eval) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      auto bn = std::make_shared<BN>(features, nn::BatchNormOptions{.affine = affine, .dtype = mg::kFloat64});
      if (affine) {
        nn::init::uniform_(bn->weight, 0.5, 1.5, &gen);
        nn::init::uniform_(bn->bias, -0.5, 0.5, &gen);
      }
      if (eval) {
        nn::init::uniform_(bn->running_mean, -0.5, 0.5, &gen);
        nn::init::uniform_(bn->running_var, 0.5, 2.0, &gen);
        bn->eval();
      }
      return bn;
    };
  };
  r.add(ModuleEntry{.name = "BatchNorm1d",
                    .cases = {{"3 features, training, input (4, 3)",
                               batch_norm(std::type_identity<nn::BatchNorm1d>(), 3, true, false),
                               {4, 3}},
                              {"2 features no affine, training, input (3, 2, 4)",
                               batch_norm(std::type_identity<nn::BatchNorm1d>(), 2, false, false),
                               {3, 2, 4}}}});
  r.add(ModuleEntry{.name = "BatchNorm2d",
                    .cases = {{"3 features, training, input (2, 3, 2, 3)",
                               batch_norm(std::type_identity<nn::BatchNorm2d>(), 3, true, false),
                               {2, 3, 2, 3}},
                              {"3 features, eval, input (2, 3, 2, 2)",
                               batch_norm(std::type_identity<nn::BatchNorm2d>(), 3, true, true),
                               {2, 3, 2, 2}}}});
  r.add(ModuleEntry{.name = "Dropout2d",
                    .cases = {{"p 0.5, fixed channel mask, (2, 3, 2, 2)",
                               [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                                 auto d = std::make_shared<nn::Dropout2d>(0.5, gen.next_u64());
                                 d->set_mask(mg::rand({2, 3, 1, 1}, {.dtype = mg::kFloat64}, &gen).ge(0.5));
                                 return d;
                               },
                               {2, 3, 2, 2}}}});
}

}  // namespace

void add_conv(Registry& r) {
  add_convolutions(r);
  add_pools(r);
  add_batch_norm(r);
  add_modules(r);
}

}  // namespace minigrad::gradcheck_tool
