// A small transformer learns to reverse strings of digits. Decoder-only: token and learned position
// embeddings, pre-LayerNorm blocks of causal self-attention and an MLP. It reads
// "d1 ... dn SEP dn ... d2" and predicts, at SEP and after, the reversed string dn ... d1.
//   example_transformer [--steps N] [--min-accuracy A]   (exits 1 below A, token accuracy in %)
#include <minigrad/minigrad.h>

#include "flags.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;

constexpr int64_t kDigits = 8;  // n: digits per string
constexpr int64_t kSep = 10;    // tokens 0..9 are digits
constexpr int64_t kVocab = 11;
constexpr int64_t kLength = 2 * kDigits;  // the model's input length

// x + attention(ln1(x)), then + mlp(ln2(x)). One tensor in and out, so blocks chain in Sequential.
class Block : public nn::Module {
 public:
  Block(int64_t d, int64_t heads, mg::Generator& gen)
      : ln1(register_module("ln1", std::make_shared<nn::LayerNorm>(mg::Shape{d}))),
        attn(register_module("attn", std::make_shared<nn::MultiheadAttention>(
                                         d, heads, nn::MultiheadAttentionOptions{.generator = &gen}))),
        ln2(register_module("ln2", std::make_shared<nn::LayerNorm>(mg::Shape{d}))),
        mlp(register_module("mlp",
                            std::make_shared<nn::Sequential>(nn::Linear(d, 4 * d, {.generator = &gen}), nn::GELU(),
                                                             nn::Linear(4 * d, d, {.generator = &gen})))) {}

  mg::Tensor forward(const mg::Tensor& x) override {
    const mg::Tensor h = (*ln1)(x);
    const auto [a, weights] = (*attn)(h, h, h, {}, /*need_weights=*/false, nn::square_subsequent_mask(x.size(1)));
    const mg::Tensor y = x + a;
    return y + (*mlp)((*ln2)(y));
  }

  std::shared_ptr<nn::LayerNorm> ln1;
  std::shared_ptr<nn::MultiheadAttention> attn;
  std::shared_ptr<nn::LayerNorm> ln2;
  std::shared_ptr<nn::Sequential> mlp;
};

class Transformer : public nn::Module {
 public:
  Transformer(int64_t d, int64_t heads, int64_t layers, mg::Generator& gen)
      : tokens(register_module("tokens",
                               std::make_shared<nn::Embedding>(kVocab, d, nn::EmbeddingOptions{.generator = &gen}))),
        positions(register_module(
            "positions", std::make_shared<nn::Embedding>(kLength, d, nn::EmbeddingOptions{.generator = &gen}))),
        blocks(register_module("blocks", std::make_shared<nn::Sequential>())),
        ln(register_module("ln", std::make_shared<nn::LayerNorm>(mg::Shape{d}))),
        head(register_module("head", std::make_shared<nn::Linear>(d, kVocab, nn::LinearOptions{.generator = &gen}))) {
    for (int64_t i = 0; i < layers; ++i) blocks->push_back(std::make_shared<Block>(d, heads, gen));
  }

  // tokens [B, T] int64 -> logits [B, T, vocab]
  mg::Tensor forward(const mg::Tensor& x) override {
    const mg::Tensor where = mg::arange(x.size(1), {.dtype = mg::kInt64});
    return (*head)((*ln)((*blocks)((*tokens)(x) + (*positions)(where))));
  }

  std::shared_ptr<nn::Embedding> tokens, positions;
  std::shared_ptr<nn::Sequential> blocks;
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Linear> head;
};

// `count` random strings: inputs [count, kLength] and targets [count, kDigits] (the reversal).
std::pair<mg::Tensor, mg::Tensor> make_batch(int64_t count, mg::Generator& gen) {
  std::vector<int64_t> inputs, targets;
  for (int64_t b = 0; b < count; ++b) {
    std::vector<int64_t> digits(kDigits);
    for (int64_t& d : digits) d = static_cast<int64_t>(gen.next_u64() % 10);
    inputs.insert(inputs.end(), digits.begin(), digits.end());
    inputs.push_back(kSep);
    inputs.insert(inputs.end(), digits.rbegin(), digits.rend() - 1);  // teacher forcing
    targets.insert(targets.end(), digits.rbegin(), digits.rend());
  }
  return {mg::tensor(inputs, {count, kLength}), mg::tensor(targets, {count * kDigits})};
}

// The logits at the kDigits answer positions (SEP and after), as rows [B * kDigits, vocab].
mg::Tensor answer_logits(Transformer& model, const mg::Tensor& inputs) {
  return model(inputs).narrow(1, kDigits, kDigits).reshape({-1, kVocab});
}

int main(int argc, char** argv) {
  flags::expect(argc, argv, {"--steps", "--min-accuracy"});
  const int64_t steps = flags::get<int64_t>(argc, argv, "--steps", 600);
  const double min_accuracy = flags::get(argc, argv, "--min-accuracy", 99.0);
  mg::Generator gen(7);
  Transformer model(64, 4, 2, gen);
  fmt::print("{}\n", model.summary());
  mg::optim::AdamW opt(model.parameters(), {.lr = 3e-3, .weight_decay = 0.01});

  for (int64_t step = 1; step <= steps; ++step) {
    const auto [inputs, targets] = make_batch(64, gen);
    const mg::Tensor loss = nn::cross_entropy(answer_logits(model, inputs), targets);
    opt.zero_grad();
    loss.backward();
    mg::optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
    if (step % 100 == 0) fmt::print("step {:4}  loss {:.4f}\n", step, loss.item());
  }

  mg::NoGradGuard no_grad;
  model.eval();
  const auto [inputs, targets] = make_batch(1000, gen);  // strings never seen in training
  const auto predicted = answer_logits(model, inputs).argmax(1).to_vector<int64_t>();
  const auto truth = targets.to_vector<int64_t>();
  int64_t right = 0, strings = 0;
  for (std::size_t s = 0; s < truth.size(); s += kDigits) {
    int64_t row = 0;
    for (int64_t i = 0; i < kDigits; ++i) row += predicted[s + i] == truth[s + i];
    right += row;
    strings += row == kDigits;
  }
  const double accuracy = 100.0 * static_cast<double>(right) / static_cast<double>(truth.size());
  fmt::print("token accuracy on 1000 new strings: {:.2f}% ({:.1f}% of strings exactly reversed)\n", accuracy,
             static_cast<double>(strings) / 10.0);
  if (accuracy < min_accuracy) {
    fmt::print("below {:.2f}%\n", min_accuracy);
    return 1;
  }
}
