#include <minigrad/distributed/data_parallel.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include <minigrad/autograd.h>

namespace minigrad::distributed {

namespace {

// FNV-1a: a stable hash of the model's description, the same in every process.
uint64_t fnv1a(std::string_view text, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

uint64_t describe(const nn::NamedTensors& named, uint64_t hash) {
  for (const auto& [name, t] : named)
    hash = fnv1a(fmt::format("{} {} {};", name, dtype_name(t.dtype()), shape_str(t.shape())), hash);
  return hash;
}

void find_dropouts(nn::Module& module, std::vector<nn::Dropout*>& out) {
  if (auto* dropout = dynamic_cast<nn::Dropout*>(&module)) out.push_back(dropout);
  for (const auto& [name, child] : module.named_children()) find_dropouts(*child, out);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string DataParallelStats::report() const {
  const double per_step = steps ? 1e3 / static_cast<double>(steps) : 0;
  return fmt::format(
      "data parallel: {} steps, {:.1f} MB of gradients sent; communication {:.3f} ms/step, of which {:.3f} ms "
      "waited after backward ({:.0f}% overlapped)",
      steps, static_cast<double>(bytes) / 1e6, communication_seconds * per_step, wait_seconds * per_step,
      communication_seconds > 0 ? 100 * (1 - wait_seconds / communication_seconds) : 0.0);
}

DataParallel::DataParallel(ProcessGroup& group, std::shared_ptr<nn::Module> module, DataParallelOptions options)
    : group_(group), module_(std::move(module)), options_(options), share_(1.0 / group.size()) {
  const nn::NamedTensors named = module_->named_parameters();
  const nn::NamedTensors named_buffers = module_->named_buffers();
  group_.check_same(describe(named_buffers, describe(named, 0)), "model (parameter and buffer names and shapes)");
  group_.check_same(options_.config_hash, "config");
  for (auto [name, t] : named) {
    group_.broadcast(t, 0, "parameter broadcast");
    if (!t.requires_grad()) continue;
    names_.push_back(name);
    params_.push_back(t);
  }
  ready_.assign(params_.size(), 0);
  for (const auto& [name, t] : named_buffers) buffers_.push_back(t);
  find_dropouts(*module_, dropouts_);
  sync_buffers();
  if (group_.size() == 1) return;  // nothing to sum

  // Buckets in reverse registration order, one dtype each.
  bucket_of_.assign(params_.size(), -1);
  for (int i = static_cast<int>(params_.size()) - 1; i >= 0; --i) {
    const Tensor& p = params_[i];
    const int64_t bytes = p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    if (buckets_.empty() || buckets_.back().dtype != p.dtype() ||
        (buckets_.back().numel * static_cast<int64_t>(dtype_size(p.dtype())) + bytes > options_.bucket_bytes &&
         buckets_.back().numel > 0))
      buckets_.push_back(Bucket{.dtype = p.dtype()});
    Bucket& bucket = buckets_.back();
    bucket_of_[i] = static_cast<int>(buckets_.size()) - 1;
    bucket.params.push_back(i);
    bucket.offsets.push_back(bucket.numel);
    bucket.numel += p.numel();
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    bucket.buffer = empty({bucket.numel}, {.dtype = bucket.dtype});
    bucket.request = {.what = "gradient bucket", .index = static_cast<int64_t>(b)};
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    params_[i].set_grad_ready_hook([this, i](const Tensor&) { gradient_ready(static_cast<int>(i)); });
}

DataParallel::~DataParallel() {
  for (Tensor& p : params_) p.set_grad_ready_hook(nullptr);
}

void DataParallel::set_batch_rows(int64_t first, int64_t count, int64_t global) {
  if (first < 0 || count < 0 || first + count > global)
    throw Error(fmt::format("DataParallel::set_batch_rows: rows [{}, {}) of a global batch of {}", first, first + count,
                            global));
  share_ = static_cast<double>(count) / static_cast<double>(global);
  for (nn::Dropout* dropout : dropouts_) dropout->set_batch_rows(first, global);
}

void DataParallel::sync_buffers() {
  if (buffers_.empty() || group_.size() == 1) return;
  int64_t total = 0;
  for (const Tensor& t : buffers_) total += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  buffer_bytes_.resize(static_cast<std::size_t>(total));
  std::byte* at = buffer_bytes_.data();
  for (const Tensor& t : buffers_) {
    const std::size_t n = t.numel() * dtype_size(t.dtype());
    if (group_.rank() == 0) std::memcpy(at, t.raw_data(), n);
    at += n;
  }
  group_.broadcast_bytes(buffer_bytes_.data(), total, 0, "buffer broadcast");
  at = buffer_bytes_.data();
  for (Tensor& t : buffers_) {
    const std::size_t n = t.numel() * dtype_size(t.dtype());
    std::memcpy(t.raw_data(), at, n);
    at += n;
  }
}

Tensor DataParallel::operator()(const Tensor& input) {
  if (ready_params_ != 0) {
    std::string missing;
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (!ready_[i]) missing += (missing.empty() ? "" : ", ") + names_[i];
    throw DistributedError(
        fmt::format("DataParallel: the last backward gave no gradient to {} ({} of {} parameters "
                    "were ready): every parameter must take part in the loss",
                    missing, ready_params_, params_.size()));
  }
  if (options_.broadcast_buffers && module_->is_training()) sync_buffers();
  return (*module_)(input);
}

// Runs inside backward, on the thread that called it.
void DataParallel::gradient_ready(int param) {
  Bucket& bucket = buckets_[bucket_of_[param]];
  const int k = static_cast<int>(std::find(bucket.params.begin(), bucket.params.end(), param) - bucket.params.begin());
  const Tensor& p = params_[param];
  const Tensor grad = p.grad();
  const int64_t n = p.numel();
  // This rank's weighted gradient; the weights of all ranks add up to 1.
  auto copy = [&](auto zero) {
    using T = decltype(zero);
    T* out = bucket.buffer.data<T>() + bucket.offsets[k];
    if (!grad.defined()) {
      std::fill(out, out + n, T(0));
      return;
    }
    const T* in = grad.data<T>();
    const T share = static_cast<T>(share_);
    for (int64_t j = 0; j < n; ++j) out[j] = in[j] * share;
  };
  if (bucket.dtype == DType::Float64)
    copy(double{});
  else
    copy(float{});
  ++bucket.ready;
  ++ready_params_;
  ready_[param] = 1;
  launch_ready_buckets();
  collect_finished_buckets(false);
  if (ready_params_ == static_cast<int>(params_.size())) finish_step();
}

// In bucket order, so that every rank starts the same collectives in the same order.
void DataParallel::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == static_cast<int>(buckets_[next_launch_].params.size())) {
    Bucket& bucket = buckets_[next_launch_++];
    if (next_launch_ == 1) first_launch_ = std::chrono::steady_clock::now();
    group_.start_all_reduce_sum(bucket.buffer, bucket.request);
    bucket.launched = true;
    const int64_t ranks = group_.size();  // the ring sends 2 (N - 1) / N of the bucket
    stats_.bytes += 2 * (ranks - 1) * bucket.numel * static_cast<int64_t>(dtype_size(bucket.dtype)) / ranks;
  }
}

void DataParallel::collect_finished_buckets(bool wait) {
  for (Bucket& bucket : buckets_) {
    if (!bucket.launched || bucket.collected) continue;
    if (wait)
      group_.wait(bucket.request);
    else if (!group_.test(bucket.request))
      continue;
    collect(bucket);
  }
}

// The summed gradients into the parameters' .grad.
void DataParallel::collect(Bucket& bucket) {
  const auto* sum = static_cast<const std::byte*>(bucket.buffer.raw_data());
  const std::size_t element = dtype_size(bucket.dtype);
  for (std::size_t k = 0; k < bucket.params.size(); ++k) {
    Tensor& p = params_[bucket.params[k]];
    if (!p.grad().defined()) p.set_grad(zeros_like(p));
    std::memcpy(p.grad().raw_data(), sum + bucket.offsets[k] * element, p.numel() * element);
  }
  bucket.collected = true;
}

void DataParallel::finish_step() {
  const auto start = std::chrono::steady_clock::now();
  collect_finished_buckets(true);
  stats_.wait_seconds += seconds_since(start);
  stats_.communication_seconds += seconds_since(first_launch_);
  ++stats_.steps;
  for (Bucket& bucket : buckets_) {
    bucket.ready = 0;
    bucket.launched = bucket.collected = false;
  }
  next_launch_ = 0;
  ready_params_ = 0;
  std::fill(ready_.begin(), ready_.end(), 0);
}

}  // namespace minigrad::distributed
