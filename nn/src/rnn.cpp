#include <minigrad/nn/init.h>
#include <minigrad/nn/rnn.h>

#include <cmath>

namespace minigrad::nn {

RecurrentBase::RecurrentBase(std::string name, int64_t gates, int64_t input, int64_t hidden, RNNOptions options)
    : input_size(input),
      hidden_size(hidden),
      num_layers(options.num_layers),
      dropout(options.dropout),
      name_(std::move(name)) {
  if (input <= 0 || hidden <= 0 || num_layers <= 0)
    throw Error(fmt::format("{}: input_size {}, hidden_size {} and num_layers {} must be positive", name_, input,
                            hidden, num_layers));
  if (!(dropout >= 0.0 && dropout <= 1.0))
    throw Error(fmt::format("{}: dropout must be in [0, 1], got {}", name_, dropout));
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  auto make = [&](const std::string& param, Shape shape) {
    Tensor t = register_parameter(param, empty(shape, {.dtype = options.dtype}));
    init::uniform_(t, -bound, bound, options.generator);
    return t;
  };
  for (int64_t l = 0; l < num_layers; ++l) {
    weight_ih.push_back(make(fmt::format("weight_ih_l{}", l), {gates * hidden, l == 0 ? input : hidden}));
    weight_hh.push_back(make(fmt::format("weight_hh_l{}", l), {gates * hidden, hidden}));
    if (options.bias) {
      bias_ih.push_back(make(fmt::format("bias_ih_l{}", l), {gates * hidden}));
      bias_hh.push_back(make(fmt::format("bias_hh_l{}", l), {gates * hidden}));
    } else {
      bias_ih.emplace_back();
      bias_hh.emplace_back();
    }
  }
  if (dropout > 0.0 && num_layers > 1) dropout_ = register_module("dropout", std::make_shared<Dropout>(dropout));
}

std::string RecurrentBase::kind() const {
  return fmt::format("{} {}->{}{}{}", name_, input_size, hidden_size,
                     num_layers > 1 ? fmt::format(", {} layers", num_layers) : "",
                     bias_ih[0].defined() ? "" : ", no bias");
}

Tensor RecurrentBase::checked_state(const Tensor& x, const Tensor& state, const char* what) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != input_size || x.size(1) == 0)
    throw Error(fmt::format("input must be [batch, time > 0, {}], got shape {}", input_size,
                            x.defined() ? shape_str(x.shape()) : "undefined"));
  const Shape expected{num_layers, x.size(0), hidden_size};
  if (!state.defined()) return zeros(expected, {.dtype = x.dtype()});
  if (state.shape() != expected)
    throw Error(fmt::format("{} of shape {} must be {} (num_layers, batch, hidden_size)", what,
                            shape_str(state.shape()), shape_str(expected)));
  return state;
}

Tensor RecurrentBase::project_input(const Tensor& x, int64_t l) const {
  const int64_t B = x.size(0), T = x.size(1);
  return linear(x.reshape({B * T, x.size(2)}), weight_ih[l], bias_ih[l]).reshape({B, T, -1});
}

Tensor RecurrentBase::project_hidden(const Tensor& h, int64_t l) const { return linear(h, weight_hh[l], bias_hh[l]); }

Tensor RecurrentBase::between_layers(const Tensor& y) { return dropout_ ? (*dropout_)(y) : y; }

LSTM::LSTM(int64_t input, int64_t hidden, RNNOptions options) : RecurrentBase("LSTM", 4, input, hidden, options) {}

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTM::forward(const Tensor& input,
                                                             const std::tuple<Tensor, Tensor>& state) {
  const Tensor h0 = checked_state(input, std::get<0>(state), "h0");
  const Tensor c0 = checked_state(input, std::get<1>(state), "c0");
  Tensor x = input;
  std::vector<Tensor> h_n, c_n;
  for (int64_t l = 0; l < num_layers; ++l) {
    if (l > 0) x = between_layers(x);
    const Tensor xp = project_input(x, l);
    Tensor h = h0.select(0, l), c = c0.select(0, l);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < xp.size(1); ++t) {
      const auto g = (xp.select(1, t) + project_hidden(h, l)).chunk(4, 1);
      c = g[1].sigmoid() * c + g[0].sigmoid() * g[2].tanh();
      h = g[3].sigmoid() * c.tanh();
      steps.push_back(h);
    }
    x = stack(steps, 1);
    h_n.push_back(h);
    c_n.push_back(c);
  }
  return {x, {stack(h_n, 0), stack(c_n, 0)}};
}

GRU::GRU(int64_t input, int64_t hidden, RNNOptions options) : RecurrentBase("GRU", 3, input, hidden, options) {}

std::tuple<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& state) {
  const Tensor h0 = checked_state(input, state, "h0");
  Tensor x = input;
  std::vector<Tensor> h_n;
  for (int64_t l = 0; l < num_layers; ++l) {
    if (l > 0) x = between_layers(x);
    const Tensor xp = project_input(x, l);
    Tensor h = h0.select(0, l);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < xp.size(1); ++t) {
      const auto gi = xp.select(1, t).chunk(3, 1);
      const auto gh = project_hidden(h, l).chunk(3, 1);
      const Tensor r = (gi[0] + gh[0]).sigmoid(), z = (gi[1] + gh[1]).sigmoid();
      const Tensor n = (gi[2] + r * gh[2]).tanh();
      h = n + z * (h - n);  // (1 - z) n + z h
      steps.push_back(h);
    }
    x = stack(steps, 1);
    h_n.push_back(h);
  }
  return {x, stack(h_n, 0)};
}

}  // namespace minigrad::nn
