#pragma once
#include <minigrad/nn/activation.h>
#include <minigrad/random.h>

#include <cstdint>
#include <memory>

namespace minigrad::nn {

// Inverted dropout: in training each element is zeroed with probability p and the survivors are
// scaled by 1/(1-p), so eval (the identity) needs no rescaling. Masks come from the layer's own
// generator: seeded from the default generator at construction (so manual_seed makes runs
// reproducible and two layers draw different masks), from a given seed, or a shared generator.
class Dropout : public ShapePreserving {
 public:
  explicit Dropout(double p = 0.5);
  Dropout(double p, uint64_t seed);
  Dropout(double p, std::shared_ptr<Generator> generator);

  Tensor forward(const Tensor& x) override;
  std::string kind() const override;

  // Use `keep` (1 = keep, 0 = drop; broadcastable to the input) instead of random masks, still
  // scaled by 1/(1-p): makes training-mode forward deterministic, e.g. for gradcheck.
  void set_mask(Tensor keep) { fixed_mask_ = std::move(keep); }
  void clear_mask() { fixed_mask_ = Tensor(); }
  // The mask generator, e.g. to checkpoint its state so a resumed run draws the same masks.
  Generator& generator() const { return *generator_; }
  // Data-parallel training: the input is rows [first, first + its rows) of a batch of `total`
  // rows. The layer draws the masks of its rows out of the whole batch's masks (skipping the rest
  // of the stream), so each process drops what one process would drop for those rows, and every
  // process's generator stays in step with one process's. total = 0: the input is the batch.
  void set_batch_rows(int64_t first, int64_t total);

  double p;

 protected:
  // The shape of the random mask, which broadcasts against x: x's own for Dropout.
  virtual Shape mask_shape(const Tensor& x) const { return x.shape(); }

 private:
  Tensor random_mask(const Tensor& x) const;

  std::shared_ptr<Generator> generator_;
  Tensor fixed_mask_;
  int64_t first_row_ = 0, total_rows_ = 0;
};

// Dropout of whole channels: in training each channel of an [N, C, H, W] (or [C, H, W]) input is
// zeroed with probability p, the others scaled by 1/(1-p) (PyTorch's Dropout2d).
class Dropout2d : public Dropout {
 public:
  using Dropout::Dropout;
  std::string kind() const override;

 protected:
  Shape mask_shape(const Tensor& x) const override;  // x's with H = W = 1
};

}  // namespace minigrad::nn
