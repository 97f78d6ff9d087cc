#pragma once
// A model's layers as a list of short entries (the config's `arch`), e.g.
//   arch = ["conv 32 3 pad 1", "bn", "relu", "maxpool 2", "flatten", "linear 256", "relu", "dropout 0.5"]
// The model takes [B, 784] pixels whatever its layers (checkpoints, predict and gradcheck feed flat
// images); the first layer that needs an image sees them as [B, 1, 28, 28]. A 10-way Linear output
// is appended, after a flatten when the last entry leaves an image.
//
//   conv OUT K [stride S] [pad P] [bias 0|1]  Conv2d, with a bias unless 'bias 0' (as before a bn)
//   res OUT [stride S]              residual block: 3x3 conv (stride S), BN, ReLU, 3x3 conv, BN, plus
//                                   the input (a 1x1 conv + BN when OUT or S change it), then ReLU
//   maxpool K [stride S] [pad P]    MaxPool2d (stride defaults to K); avgpool alike
//   gap                             global average pooling to [B, C]
//   flatten                         [B, C, H, W] -> [B, C*H*W]
//   linear N                        Linear on flat features
//   bn                              BatchNorm2d on images, BatchNorm1d on features
//   dropout P, dropout2d P          Dropout; Dropout2d (whole channels) on images
//   relu, leaky_relu, tanh, sigmoid, gelu
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/nn/nn.h>

namespace fashion {

struct TrainConfig;

// One entry, parsed and placed: the shape it receives and the numbers it was given.
struct Layer {
  std::string entry;  // as written, for messages
  std::string kind;   // the first word
  int64_t size = 0;   // OUT or N
  int64_t kernel = 0, stride = 0, pad = 0;
  bool bias = true;  // conv
  double p = 0.0;
  bool image_input = false;                                   // receives [C, H, W] (else flat features)
  int64_t channels = 0, height = 0, width = 0, features = 0;  // the shape it receives
};

// The entries an MLP config (hidden, activation, dropout, input_dropout) stands for.
std::vector<std::string> mlp_arch(const TrainConfig& config);

// The entries parsed, with the shape each receives, checked to fit 28x28 grayscale input. Throws
// minigrad::Error naming the entry ("arch[2] 'maxpool 0': ...") for an unknown kind, a bad number
// or a shape that does not fit.
std::vector<Layer> plan_arch(const std::vector<std::string>& arch);

// The numbers of values the model the entries build holds, including the output layer;
// INT64_MAX on overflow.
struct ArchSize {
  int64_t parameters = 0;
  int64_t buffer_values = 0;  // BatchNorm's running statistics and batch counters
};
ArchSize arch_size(const std::vector<Layer>& layers);

// The model of config.arch, or of mlp_arch(config) when arch is empty; Linear and Conv2d weights
// are initialized as config.init says, for the nonlinearity that follows them. Parameters and
// buffers are of `dtype` (float64 for gradient checks).
std::shared_ptr<minigrad::nn::Sequential> build_arch(const TrainConfig& config,
                                                     minigrad::DType dtype = minigrad::kFloat32);

// Fills weight (and bias, when defined) as config.init says for a layer followed by
// `nonlinearity`; Linear means the output layer, which keeps its PyTorch default under kaiming.
void initialize_weight(minigrad::Tensor& weight, minigrad::Tensor bias, const TrainConfig& config,
                       minigrad::nn::init::Nonlinearity nonlinearity);

}  // namespace fashion
