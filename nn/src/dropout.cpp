#include <minigrad/nn/dropout.h>

namespace minigrad::nn {

Dropout::Dropout(double p) : Dropout(p, default_generator().next_u64()) {}

Dropout::Dropout(double p, uint64_t seed) : Dropout(p, std::make_shared<Generator>(seed)) {}

Dropout::Dropout(double p_, std::shared_ptr<Generator> generator) : p(p_), generator_(std::move(generator)) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("Dropout: p must be in [0, 1], got {}", p));
  if (!generator_) throw Error("Dropout: the generator is null");
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;  // as PyTorch: all dropped, no division by zero
  const Tensor keep = (fixed_mask_.defined() ? fixed_mask_ : random_mask(x))
                          .to(x.dtype());  // a bool mask times 1/(1-p) alone would be float32
  return x * (keep * (1.0 / (1.0 - p)));
}

void Dropout::set_batch_rows(int64_t first, int64_t total) {
  if (first < 0 || total < 0 || (total > 0 && first >= total))
    throw Error(fmt::format("Dropout::set_batch_rows: row {} of a batch of {}", first, total));
  first_row_ = first;
  total_rows_ = total;
}

Tensor Dropout::random_mask(const Tensor& x) const {
  const Shape shape = mask_shape(x);
  if (total_rows_ == 0 || shape.empty()) return rand(shape, {.dtype = x.dtype()}, generator_.get()).ge(p);
  const int64_t rows = shape[0], per_row = shape_numel(shape) / std::max<int64_t>(rows, 1);
  if (first_row_ + rows > total_rows_)
    throw Error(fmt::format("Dropout: an input of {} rows from row {} does not fit a batch of {} (set_batch_rows)",
                            rows, first_row_, total_rows_));
  // rand draws element i from the i-th number of the stream, so skipping the rows before ours and
  // after ours leaves the stream where drawing the whole batch would.
  generator_->discard(static_cast<uint64_t>(first_row_ * per_row));
  Tensor keep = rand(shape, {.dtype = x.dtype()}, generator_.get()).ge(p);
  generator_->discard(static_cast<uint64_t>((total_rows_ - first_row_ - rows) * per_row));
  return keep;
}

std::string Dropout::kind() const { return fmt::format("Dropout p={}", p); }

std::string Dropout2d::kind() const { return fmt::format("Dropout2d p={}", p); }

Shape Dropout2d::mask_shape(const Tensor& x) const {
  if (x.dim() != 3 && x.dim() != 4)
    throw Error(fmt::format("Dropout2d: input {} is not 3-D or 4-D ([N, C, H, W] or [C, H, W] expected)",
                            shape_str(x.shape())));
  Shape s = x.shape();
  s[s.size() - 2] = s[s.size() - 1] = 1;
  return s;
}

}  // namespace minigrad::nn
