#pragma once
// Recurrent layers over whole sequences, as torch.nn.LSTM and torch.nn.GRU with batch_first=True:
// input [batch, time, input_size], state [num_layers, batch, hidden_size], PyTorch's parameter
// names (weight_ih_l0 [gates * hidden, input], weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), gate
// order and init (every tensor U(-1/sqrt(hidden), 1/sqrt(hidden))), so PyTorch's state_dict loads.
//   auto [y, state] = lstm(x);               // y [B, T, hidden]; state: (h_n, c_n)
//   auto [y2, h_n] = gru(x, h0);
// Not supported: unbatched 2-D input, bidirectional, proj_size.
#include <memory>
#include <tuple>
#include <vector>

#include <minigrad/nn/dropout.h>
#include <minigrad/random.h>

namespace minigrad::nn {

struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  double dropout = 0.0;  // on the outputs of every layer but the last, in training
  DType dtype = kFloat32;
  Generator* generator = nullptr;  // for the initial weights; the default generator when null
};

// What LSTM and GRU share: the parameters, the checks, the projections and dropout.
class RecurrentBase : public Module {
 public:
  std::string kind() const override;

  int64_t input_size, hidden_size, num_layers;
  double dropout;
  // Per layer; the biases are undefined without options.bias.
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RecurrentBase(std::string name, int64_t gates, int64_t input_size, int64_t hidden_size, RNNOptions options);
  // Checks input [B, T, input_size] (T > 0) and `state` [num_layers, B, hidden] (undefined:
  // zeros); returns the state.
  Tensor checked_state(const Tensor& input, const Tensor& state, const char* what) const;
  // The input projection of `layer` for every step in one GEMM: [B, T, gates * hidden].
  Tensor project_input(const Tensor& x, int64_t layer) const;
  // The hidden projection of one step: [B, gates * hidden].
  Tensor project_hidden(const Tensor& h, int64_t layer) const;
  // A layer's output sequence as the next layer's input: dropout in training.
  Tensor between_layers(const Tensor& y);

 private:
  std::string name_;
  std::shared_ptr<Dropout> dropout_;  // null when dropout is 0 or there is one layer
};

// Gates i, f, g, o: c' = f c + i g, h' = o tanh(c').
class LSTM : public RecurrentBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, RNNOptions options = {});

  // Returns the last layer's h at every step [B, T, hidden] and the final (h_n, c_n).
  std::tuple<Tensor, std::tuple<Tensor, Tensor>> forward(const Tensor& input,
                                                         const std::tuple<Tensor, Tensor>& state = {});
  std::tuple<Tensor, std::tuple<Tensor, Tensor>> operator()(const Tensor& input,
                                                            const std::tuple<Tensor, Tensor>& state = {}) {
    return call([&] { return forward(input, state); });
  }
};

// Gates r, z, n: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
class GRU : public RecurrentBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, RNNOptions options = {});

  // Returns the last layer's h at every step [B, T, hidden] and the final h_n.
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0 = Tensor());
  std::tuple<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h0 = Tensor()) {
    return call([&] { return forward(input, h0); });
  }
};

}  // namespace minigrad::nn
