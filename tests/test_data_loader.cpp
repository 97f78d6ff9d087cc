// Tests of the Tensor side of minigrad/data: to_dataset, standardization, augmentation, the
// train/validation split and the DataLoader, on small synthetic datasets; and a timed load of
// the real Fashion-MNIST when it is installed.
#include <catch2/catch.hpp>

#include <minigrad/allocator.h>
#include <minigrad/data/data.h>
#include <minigrad/threads.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace md = minigrad::data;
namespace mg = minigrad;
using Catch::Matchers::Contains;

namespace {

// n samples of `features` values; sample i has label i and every feature equal to i, so a batch
// shows which samples it holds and that images and labels stayed together.
md::Dataset numbered(int64_t n, int64_t features = 3) {
  md::Dataset ds{mg::empty({n, features}), mg::empty({n}, {.dtype = mg::kInt64})};
  for (int64_t i = 0; i < n; ++i) {
    std::fill_n(ds.images.data<float>() + i * features, features, static_cast<float>(i));
    ds.labels.data<int64_t>()[i] = i;
  }
  return ds;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// The labels of every batch of one pass, in order, checking each image row against its label.
std::vector<int64_t> pass(const md::DataLoader& loader) {
  std::vector<int64_t> seen;
  for (auto& [x, y] : loader) {
    REQUIRE(x.size(0) == y.size(0));
    const int64_t features = x.size(1);
    for (int64_t k = 0; k < y.size(0); ++k) {
      const int64_t label = y.data<int64_t>()[k];
      CHECK(x.data<float>()[k * features] == static_cast<float>(label));
      seen.push_back(label);
    }
  }
  return seen;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("data: to_dataset scales pixels to [0, 1] and labels to int64", "[data]") {
  md::ImageSet set{.count = 2, .rows = 1, .cols = 3, .pixels = {0, 255, 51, 102, 0, 255}, .labels = {7, 0}};
  md::Dataset ds = md::to_dataset(set);
  REQUIRE(ds.size() == 2);
  CHECK(ds.images.shape() == mg::Shape{2, 3});
  CHECK(ds.images.dtype() == mg::kFloat32);
  CHECK(ds.labels.dtype() == mg::kInt64);
  CHECK(ds.images.to_vector<float>() == std::vector<float>{0.0f, 1.0f, 0.2f, 0.4f, 0.0f, 1.0f});
  CHECK(ds.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 0});
  CHECK(ds.geometry == md::ImageGeometry{1, 1, 3});

  set.labels.pop_back();
  CHECK_THAT(error_of([&] { md::to_dataset(set); }), Contains("2 images of 1x3") && Contains("it has 6 and 1"));
}

TEST_CASE("data: Dataset subset and head copy the chosen rows", "[data]") {
  md::Dataset ds = numbered(5);
  md::Dataset sub = ds.subset({4, 1, 1});
  CHECK(sub.labels.to_vector<int64_t>() == std::vector<int64_t>{4, 1, 1});
  CHECK(sub.images.shape() == mg::Shape{3, 3});
  CHECK(sub.images.data<float>()[0] == 4.0f);
  CHECK(ds.head(2).labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(ds.head(99).size() == 5);
  CHECK(ds.head(0).size() == 0);
  CHECK(md::Dataset{}.size() == 0);
  CHECK_THAT(error_of([&] { ds.subset({0, 5}); }), Contains("index 5 (at position 1)") && Contains("5 samples"));
  CHECK_THAT(error_of([&] { ds.head(-1); }), Contains("n is -1"));
  md::Dataset bad{ds.images, mg::zeros({5})};
  CHECK_THAT(error_of([&] { bad.subset({0}); }), Contains("labels must be int64 [N], got float32 (5,)"));

  ds.geometry = {3, 1, 1};
  CHECK(ds.subset({2}).geometry == md::ImageGeometry{3, 1, 1});
  ds.geometry = {1, 2, 2};
  CHECK_THAT(error_of([&] { ds.head(1); }),
             Contains("Dataset::head") ||
                 Contains("Dataset::subset: geometry 1x2x2 (C x H x W) does not fit images of 3 features"));
}

TEST_CASE("data: DataLoader hands out NCHW batches sharing the gathered buffer", "[data]") {
  md::Dataset ds = numbered(10, 12);
  CHECK_THAT(
      error_of([&] { md::DataLoader(ds, {.nchw = true}); }),
      Contains("DataLoader: nchw needs the dataset's image geometry (C, H, W), and it has none (images (10, 12))"));
  CHECK_THAT(error_of([&] { md::DataLoader(ds, {.augment = {.horizontal_flip = true}}); }),
             Contains("DataLoader: augmentation needs the dataset's image geometry"));
  ds.geometry = {3, 2, 2};
  md::DataLoader flat(ds, {.batch_size = 4, .seed = 1});
  md::DataLoader nchw(ds, {.batch_size = 4, .seed = 1, .nchw = true});
  const md::Batch a = flat.batch(2), b = nchw.batch(2);
  CHECK(a.x.shape() == mg::Shape{2, 12});
  CHECK(b.x.shape() == mg::Shape{2, 3, 2, 2});
  CHECK(a.x.to_vector<float>() == b.x.to_vector<float>());
  CHECK(a.y.to_vector<int64_t>() == b.y.to_vector<int64_t>());
}

TEST_CASE("data: standardization uses the training split's mean and std", "[data]") {
  md::Dataset train{mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 9.0}, {2, 3}), mg::zeros({2}, {.dtype = mg::kInt64})};
  md::Dataset test{mg::tensor({4.0, 7.0}, {1, 2}), mg::zeros({1}, {.dtype = mg::kInt64})};
  md::Standardization s = md::fit_standardization(train);
  CHECK(s.mean == Approx(4.0));
  CHECK(s.std == Approx(std::sqrt(40.0 / 6.0)));  // population std: squared deviations sum to 40

  md::standardize(train, s);
  CHECK(train.images.mean().item() == Approx(0.0).margin(1e-6));
  CHECK(train.images.pow(2.0).mean().item() == Approx(1.0));
  md::standardize(test, s);  // the test split gets the training statistics, not its own
  CHECK(test.images.data<float>()[0] == Approx(0.0).margin(1e-6));
  CHECK(test.images.data<float>()[1] == Approx(3.0 / s.std));

  md::Dataset constant{mg::full({2, 2}, 0.5), mg::zeros({2}, {.dtype = mg::kInt64})};
  CHECK(md::fit_standardization(constant).std == 1.0);
  CHECK_THAT(error_of([&] { md::standardize(train, {0.1, 0.0}); }), Contains("std 0"));
  CHECK_THAT(error_of([&] { md::fit_standardization(numbered(0)); }), Contains("empty"));
}

TEST_CASE("data: per-image standardization, including a constant image", "[data]") {
  md::Dataset ds{mg::tensor({0.0, 0.0, 1.0, 1.0, 0.2, 0.4, 0.6, 0.9, 0.3, 0.3, 0.3, 0.3}, {3, 4}),
                 mg::zeros({3}, {.dtype = mg::kInt64})};
  md::standardize_per_image(ds);
  mg::Tensor mean = ds.images.mean(1), mean_square = ds.images.pow(2.0).mean(1);
  for (int64_t i = 0; i < 2; ++i) {
    CHECK(mean.data<float>()[i] == Approx(0.0).margin(1e-6));
    CHECK(mean_square.data<float>()[i] == Approx(1.0));
  }
  CHECK(ds.images.to_vector<float>()[0] == Approx(-1.0));
  for (int64_t j = 8; j < 12; ++j) CHECK(ds.images.to_vector<float>()[j] == 0.0f);  // constant: centred, no NaN
}

TEST_CASE("data: train_val_split sizes, disjointness and determinism by seed", "[data]") {
  md::Dataset ds = numbered(100);
  auto [train, val] = md::train_val_split(ds, 0.2, 7);
  REQUIRE(train.size() == 80);
  REQUIRE(val.size() == 20);
  std::vector<int64_t> t = train.labels.to_vector<int64_t>(), v = val.labels.to_vector<int64_t>();
  CHECK(std::is_sorted(t.begin(), t.end()));
  std::set<int64_t> all(t.begin(), t.end());
  all.insert(v.begin(), v.end());
  CHECK(all.size() == 100);  // disjoint, and together every sample
  CHECK(train.images.data<float>()[3] == static_cast<float>(t[1]));

  CHECK(md::train_val_split(ds, 0.2, 7).second.labels.to_vector<int64_t>() == v);
  CHECK(md::train_val_split(ds, 0.2, 8).second.labels.to_vector<int64_t>() != v);

  auto [whole, none] = md::train_val_split(ds, 0.0, 7);
  CHECK(whole.size() == 100);
  CHECK(none.size() == 0);
  CHECK(none.images.shape() == mg::Shape{0, 3});
  for (double bad : {1.0, -0.1, std::numeric_limits<double>::quiet_NaN()})
    CHECK_THAT(error_of([&] { md::train_val_split(ds, bad, 7); }), Contains(fmt::format("val_fraction is {}", bad)));
}

TEST_CASE("data: DataLoader visits every sample exactly once per epoch", "[data]") {
  md::Dataset ds = numbered(10);
  md::DataLoader loader(ds, {.batch_size = 3, .seed = 1});
  REQUIRE(loader.num_batches() == 4);
  CHECK(loader.batch(3).y.size(0) == 1);  // the short last batch
  std::vector<int64_t> seen = pass(loader);
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == numbered(10).labels.to_vector<int64_t>());
  CHECK(seen != sorted);  // shuffled (10! orders: the identity is a 1 in 3.6 million chance)

  md::DataLoader in_order(ds, {.batch_size = 4, .shuffle = false});
  CHECK(pass(in_order) == sorted);

  md::DataLoader dropping(ds, {.batch_size = 3, .drop_last = true, .seed = 1});
  REQUIRE(dropping.num_batches() == 3);
  std::vector<int64_t> kept = pass(dropping);
  CHECK(kept.size() == 9);
  CHECK(std::set<int64_t>(kept.begin(), kept.end()).size() == 9);
  CHECK(md::DataLoader(ds, {.batch_size = 20, .drop_last = true}).num_batches() == 0);

  md::DataLoader empty(numbered(0), {.batch_size = 4});
  CHECK(empty.num_batches() == 0);
  CHECK(pass(empty).empty());

  for (int64_t bad : {0, -5})
    CHECK_THAT(error_of([&] { md::DataLoader(ds, {.batch_size = bad}); }),
               Contains(fmt::format("batch_size is {}", bad)));
  CHECK_THAT(error_of([&] { loader.batch(4); }), Contains("index 4") && Contains("4 batches"));
}

TEST_CASE("data: DataLoader order is a pure function of (seed, epoch)", "[data]") {
  md::Dataset ds = numbered(50);
  md::DataLoader loader(ds, {.batch_size = 8, .seed = 3});
  const std::vector<int64_t> epoch0 = pass(loader);
  loader.set_epoch(1);
  const std::vector<int64_t> epoch1 = pass(loader);
  CHECK(epoch1 != epoch0);
  loader.set_epoch(0);
  CHECK(pass(loader) == epoch0);

  md::DataLoader twin(ds, {.batch_size = 8, .seed = 3});
  twin.set_epoch(1);
  CHECK(pass(twin) == epoch1);
  md::DataLoader other_seed(ds, {.batch_size = 8, .seed = 4});
  CHECK(pass(other_seed) != epoch0);
  CHECK_THAT(error_of([&] { loader.set_epoch(-1); }), Contains("epoch is -1"));
}

TEST_CASE("data: DataLoader batches reuse cached buffers", "[data]") {
  md::DataLoader loader(numbered(1000, 784), {.batch_size = 100});
  pass(loader);  // warms the cache
  loader.set_epoch(1);
  const uint64_t before = mg::allocator_stats().system_allocations;
  pass(loader);
  CHECK(mg::allocator_stats().system_allocations == before);
}

TEST_CASE("data: augmentation shifts within max_shift, fills with the background, flips", "[data]") {
  const int64_t rows = 9, cols = 7, plane = rows * cols;
  const md::ImageGeometry geometry{1, rows, cols};
  const int64_t r0 = 4, c0 = 3, batch = 200;
  // Each image: background -0.5 (as after standardization) and one bright pixel in the middle.
  mg::Tensor images = mg::full({batch, plane}, -0.5);
  for (int64_t b = 0; b < batch; ++b) images.data<float>()[b * plane + r0 * cols + c0] = 3.0f;

  mg::Generator gen(11);
  md::augment_batch(images, geometry, {.max_shift = 2}, gen);
  std::set<std::pair<int64_t, int64_t>> shifts;
  for (int64_t b = 0; b < batch; ++b) {
    const float* img = images.data<float>() + b * plane;
    const auto bright = std::max_element(img, img + plane) - img;
    CHECK(img[bright] == 3.0f);
    CHECK(std::count(img, img + plane, -0.5f) == plane - 1);  // uncovered pixels are background
    const int64_t dy = bright / cols - r0, dx = bright % cols - c0;
    CHECK(std::abs(dy) <= 2);
    CHECK(std::abs(dx) <= 2);
    shifts.emplace(dy, dx);
  }
  CHECK(shifts.size() == 25);  // every shift in -2..2 x -2..2 occurs in 200 draws

  // Flip only: each image is either unchanged or mirrored left-right, and both happen.
  mg::Tensor ramp = mg::empty({batch, plane});
  for (int64_t i = 0; i < batch * plane; ++i) ramp.data<float>()[i] = static_cast<float>(i % plane);
  md::augment_batch(ramp, geometry, {.horizontal_flip = true}, gen);
  int64_t flipped = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float* img = ramp.data<float>() + b * plane;
    const bool mirrored = img[0] == static_cast<float>(cols - 1);
    flipped += mirrored;
    for (int64_t y = 0; y < rows; ++y)
      for (int64_t x = 0; x < cols; ++x)
        CHECK(img[y * cols + x] == static_cast<float>(y * cols + (mirrored ? cols - 1 - x : x)));
  }
  CHECK(flipped > 60);
  CHECK(flipped < 140);
}

TEST_CASE("data: a random crop of an NCHW batch moves every channel alike, padding as asked", "[data]") {
  const md::ImageGeometry geometry{2, 6, 5};
  const int64_t plane = 30, batch = 50;
  // Channel 0 has background 1 and channel 1 background -2; both have a marker at (3, 2).
  mg::Tensor images = mg::empty({batch, 2, 6, 5});
  float* x = images.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    std::fill_n(x + b * 2 * plane, plane, 1.0f);
    std::fill_n(x + b * 2 * plane + plane, plane, -2.0f);
    x[b * 2 * plane + 3 * 5 + 2] = 7.0f;
    x[b * 2 * plane + plane + 3 * 5 + 2] = 9.0f;
  }
  mg::Tensor padded_with_zero = images.clone();
  mg::Generator gen(3), same(3);
  md::augment_batch(images, geometry, {.max_shift = 1}, gen);
  md::augment_batch(padded_with_zero, geometry, {.max_shift = 1, .fill = 0.0f}, same);
  const float* z = padded_with_zero.data<float>();
  int64_t zeros = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float* c0 = x + b * 2 * plane;
    const float* c1 = c0 + plane;
    const auto at0 = std::find(c0, c0 + plane, 7.0f) - c0, at1 = std::find(c1, c1 + plane, 9.0f) - c1;
    CHECK(at0 == at1);  // one shift for all channels
    CHECK(std::abs(at0 / 5 - 3) <= 1);
    CHECK(std::abs(at0 % 5 - 2) <= 1);
    CHECK(std::count(c0, c0 + plane, 1.0f) == plane - 1);  // each channel's own background
    CHECK(std::count(c1, c1 + plane, -2.0f) == plane - 1);
    // The same draws with fill 0: the same markers, zeros where the default put the background.
    for (int64_t i = 0; i < 2 * plane; ++i) {
      const float* img = x + b * 2 * plane;
      const float* zimg = z + b * 2 * plane;
      if (zimg[i] == 0.0f) {
        ++zeros;
        CHECK((img[i] == 1.0f || img[i] == -2.0f));
      } else {
        CHECK(zimg[i] == img[i]);
      }
    }
  }
  CHECK(zeros > 0);
}

TEST_CASE("data: random erasing sets one rectangle of every channel, as torchvision draws it", "[data]") {
  const md::ImageGeometry geometry{2, 28, 28};
  const int64_t plane = 28 * 28, batch = 400;
  mg::Tensor images = mg::full({batch, 2 * plane}, 5.0);
  mg::Generator gen(9);
  md::augment_batch(images, geometry, {.erasing = md::RandomErasing{}}, gen);
  int64_t erased = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float* c0 = images.data<float>() + b * 2 * plane;
    const float* c1 = c0 + plane;
    CHECK(std::equal(c0, c0 + plane, c1));
    const auto count = std::count(c0, c0 + plane, 0.0f);
    if (count == 0) continue;
    ++erased;
    // The zeros form one rectangle: its bounding box holds exactly `count` pixels.
    int64_t top = 28, bottom = -1, left = 28, right = -1;
    for (int64_t i = 0; i < plane; ++i)
      if (c0[i] == 0.0f) {
        top = std::min(top, i / 28), bottom = std::max(bottom, i / 28);
        left = std::min(left, i % 28), right = std::max(right, i % 28);
      }
    const int64_t h = bottom - top + 1, w = right - left + 1;
    CHECK(h * w == count);
    CHECK(h < 28);
    CHECK(w < 28);
    // area in scale (0.02, 0.33) of 784 and aspect ratio in (0.3, 3.3), up to the rounding of h and w
    CHECK(count >= 0.02 * plane - 2 * std::sqrt(0.33 * plane) - 1);
    CHECK(count <= 0.33 * plane + 2 * std::sqrt(3.3 * 0.33 * plane) + 1);
    CHECK(static_cast<double>(h) / static_cast<double>(w) >= 0.2);
    CHECK(static_cast<double>(h) / static_cast<double>(w) <= 5.0);
  }
  CHECK(erased > 160);  // p 0.5
  CHECK(erased < 240);

  md::RandomErasing always{.p = 1.0, .scale = {0.25, 0.25}, .ratio = {1.0, 1.0}, .value = -1.0f};
  mg::Tensor one = mg::full({1, 1, 8, 8}, 5.0);
  md::augment_batch(one, {1, 8, 8}, {.erasing = always}, gen);
  CHECK(std::count(one.data<float>(), one.data<float>() + 64, -1.0f) == 16);  // a 4x4 square

  mg::Tensor whole = mg::full({1, 64}, 5.0);  // a rectangle of the whole image never fits: unchanged
  md::augment_batch(whole, {1, 8, 8}, {.erasing = md::RandomErasing{.p = 1.0, .scale = {1.0, 1.0}}}, gen);
  CHECK(whole.to_vector<float>() == std::vector<float>(64, 5.0f));

  CHECK_THAT(error_of([&] {
               md::augment_batch(one, {1, 8, 8}, {.erasing = md::RandomErasing{.p = 1.5}}, gen);
             }),
             Contains("erasing p is 1.5; it must be in [0, 1]"));
  CHECK_THAT(error_of([&] {
               md::augment_batch(one, {1, 8, 8}, {.erasing = md::RandomErasing{.scale = {0.5, 0.1}}}, gen);
             }),
             Contains("erasing scale is (0.5, 0.1)"));
  CHECK_THAT(error_of([&] {
               md::augment_batch(one, {1, 8, 8}, {.erasing = md::RandomErasing{.ratio = {0.0, 1.0}}}, gen);
             }),
             Contains("erasing ratio is (0, 1)"));
}

TEST_CASE("data: flip_horizontal mirrors every row into a new tensor", "[data]") {
  const int64_t rows = 3, cols = 4, batch = 2;
  mg::Tensor images = mg::empty({batch, rows * cols});
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(i);
  const std::vector<float> before = images.to_vector<float>();
  const std::vector<float> flipped = md::flip_horizontal(images, {1, rows, cols}).to_vector<float>();
  for (int64_t r = 0; r < batch * rows; ++r)
    for (int64_t x = 0; x < cols; ++x) CHECK(flipped[r * cols + x] == before[r * cols + cols - 1 - x]);
  CHECK(images.to_vector<float>() == before);
  const mg::Tensor nchw = md::flip_horizontal(images.reshape({batch, 3, 1, cols}), {3, 1, cols});
  CHECK(nchw.shape() == mg::Shape{batch, 3, 1, cols});
  CHECK(nchw.to_vector<float>() == flipped);
  CHECK_THAT(error_of([&] {
               md::flip_horizontal(images, {1, 4, 4});
             }),
             Contains("flip_horizontal: images must be float32 [B, C*H*W] or [B, C, H, W] with C 1, H 4, W 4, got "
                      "float32 (2, 12)"));
}

TEST_CASE("data: disabled augmentation is the identity and draws nothing", "[data]") {
  mg::Tensor images = mg::rand({4, 6});
  const std::vector<float> before = images.to_vector<float>();
  mg::Generator gen(5), fresh(5);
  md::augment_batch(images, {1, 2, 3}, md::Augmentation{}, gen);
  md::augment_batch(images, {1, 2, 3}, {.erasing = md::RandomErasing{.p = 0.0}}, gen);
  CHECK(images.to_vector<float>() == before);
  CHECK(gen.next_u64() == fresh.next_u64());
  CHECK_THAT(error_of([&] {
               md::augment_batch(images, {1, 2, 3}, {.max_shift = -1}, gen);
             }),
             Contains("max_shift is -1"));
  CHECK_THAT(error_of([&] {
               md::augment_batch(images, {1, 3, 3}, {.max_shift = 1}, gen);
             }),
             Contains("C 1, H 3, W 3, got float32 (4, 6)"));
}

TEST_CASE("data: augmented batches are a function of (seed, epoch, index), for any thread count", "[data]") {
  md::Dataset ds = numbered(40, 2 * 6 * 6);
  for (int64_t i = 0; i < ds.images.numel(); ++i) ds.images.data<float>()[i] += static_cast<float>(i % 13);
  ds.geometry = {2, 6, 6};
  const md::Augmentation all{.max_shift = 2, .horizontal_flip = true, .erasing = md::RandomErasing{}};
  md::DataLoader loader(ds, {.batch_size = 5, .seed = 2, .augment = all, .nchw = true});
  // batch(i) is augmented the same way however often and in whatever order it is built.
  const std::vector<float> third = loader.batch(2).x.to_vector<float>();
  loader.batch(0);
  CHECK(loader.batch(2).x.to_vector<float>() == third);
  CHECK(loader.batch(2).x.to_vector<float>() !=
        md::DataLoader(ds, {.batch_size = 5, .seed = 2}).batch(2).x.to_vector<float>());

  const int threads = mg::get_num_threads();
  mg::set_num_threads(1);
  const std::vector<float> one_thread = loader.batch(2).x.to_vector<float>();
  mg::set_num_threads(2);
  const std::vector<float> two_threads = loader.batch(2).x.to_vector<float>();
  mg::set_num_threads(threads);
  CHECK(one_thread == third);
  CHECK(two_threads == third);

  // No allocation once a pass has warmed the cache.
  md::DataLoader big(ds, {.batch_size = 8, .seed = 1, .augment = all, .nchw = true});
  const auto visit_all = [&] {
    for (const md::Batch& b : big) CHECK(b.x.shape() == mg::Shape{8, 2, 6, 6});
  };
  visit_all();
  big.set_epoch(1);
  const uint64_t before = mg::allocator_stats().system_allocations;
  visit_all();
  CHECK(mg::allocator_stats().system_allocations == before);
}

TEST_CASE("data: shards of a batch are its rows, split in order, augmented as in one process", "[data]") {
  md::Dataset ds = numbered(23, 2 * 4 * 4);
  ds.geometry = {2, 4, 4};
  const md::Augmentation shift{.max_shift = 1, .horizontal_flip = true};
  for (const bool augmenting : {false, true}) {
    const md::LoaderOptions whole{.batch_size = 8, .seed = 3, .augment = augmenting ? shift : md::Augmentation{}};
    md::DataLoader one(ds, whole);
    one.set_epoch(1);
    std::vector<md::DataLoader> shards;
    for (int64_t r = 0; r < 3; ++r) {
      md::LoaderOptions options = whole;
      options.shard = {r, 3};
      shards.emplace_back(ds, options);
      shards.back().set_epoch(1);
    }
    for (int64_t i = 0; i < one.num_batches(); ++i) {
      // 8 rows split 2, 3, 3; the last batch's 7 rows split 2, 2, 3.
      std::vector<float> joined;
      for (const md::DataLoader& shard : shards) {
        const auto x = shard.batch(i).x.to_vector<float>();
        CHECK(shard.batch(i).y.numel() * 32 == static_cast<int64_t>(x.size()));
        joined.insert(joined.end(), x.begin(), x.end());
      }
      CHECK(shards[0].batch(i).y.numel() == 2);
      CHECK(shards[2].batch(i).y.numel() == 3);
      const auto rows = shards[1].shard_rows(i);
      CHECK((rows.first == 2 && rows.count == (i == 2 ? 2 : 3) && rows.global == (i == 2 ? 7 : 8)));
      CHECK(joined == one.batch(i).x.to_vector<float>());
    }
  }
  CHECK_THROWS_WITH(md::DataLoader(ds, {.batch_size = 10, .shard = {0, 4}}),
                    Contains("the last batch has 3 rows, fewer than the 4 shards"));
  CHECK_THROWS_WITH(md::DataLoader(ds, {.batch_size = 10, .shard = {2, 2}}), Contains("shard 2 of 2 does not exist"));
}

TEST_CASE("data: the real Fashion-MNIST as a Dataset, timed", "[data][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) {
    WARN("skipped: " << dir << " not found (apt-get install dataset-fashion-mnist)");
    return;
  }
  auto start = std::chrono::steady_clock::now();
  md::Dataset train = md::load_fashion_mnist_dataset(dir, md::Split::Train);
  const double load_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  md::Dataset test = md::load_fashion_mnist_dataset(dir, md::Split::Test);
  const double load_test_s = seconds_since(start);
  CHECK(test.size() == 10000);
  REQUIRE(train.images.shape() == mg::Shape{60000, 784});
  REQUIRE(train.labels.shape() == mg::Shape{60000});
  CHECK(train.images.min().item() == 0.0);
  CHECK(train.images.max().item() == 1.0);
  const std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
  CHECK(*std::min_element(labels.begin(), labels.end()) == 0);
  CHECK(*std::max_element(labels.begin(), labels.end()) == 9);

  start = std::chrono::steady_clock::now();
  md::standardize(train, md::fit_standardization(train));
  const double standardize_s = seconds_since(start);
  CHECK(train.images.mean().item() == Approx(0.0).margin(1e-4));

  md::DataLoader loader(train, {.batch_size = 128, .seed = 1});
  start = std::chrono::steady_clock::now();
  int64_t samples = 0;
  for (auto& [x, y] : loader) samples += y.size(0);
  const double epoch_s = seconds_since(start);
  CHECK(samples == 60000);

  md::DataLoader augmented(train, {.batch_size = 128, .seed = 1, .augment = {.max_shift = 2, .horizontal_flip = true}});
  start = std::chrono::steady_clock::now();
  for (auto& batch : augmented) samples += batch.y.size(0);
  const double augmented_s = seconds_since(start);

  fmt::print(
      "Fashion-MNIST as Datasets: load train {:.3f} s, test {:.3f} s; fit+standardize {:.3f} s; "
      "one epoch of 469 batches {:.3f} s, with augmentation {:.3f} s\n",
      load_s, load_test_s, standardize_s, epoch_s, augmented_s);
}
