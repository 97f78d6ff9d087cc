// The building blocks of allocation-free steps: SmallVector (Shape, TensorList), the small-object
// pool and BackwardFn, each also past its inline capacity.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;

namespace {
// Destroyed at exit, before or after the pool's own exit hook (the order across files is not
// specified): the ASan and valgrind runs of this binary check that both are safe and leak-free.
mg::Tensor released_at_exit;
}  // namespace

TEST_CASE("Shape: the std::vector operations users rely on, inline and past 5 axes") {
  mg::Shape s{128, 784};
  CHECK(s.size() == 2);
  CHECK(s[1] == 784);
  CHECK(s.back() == 784);
  CHECK(s == mg::Shape(std::vector<int64_t>{128, 784}));
  CHECK_FALSE(s == mg::Shape{128});
  s.insert(s.begin(), 7);
  s.push_back(9);
  CHECK(s == mg::Shape{7, 128, 784, 9});
  const std::vector<int64_t> more{1, 2, 3, 4};
  s.insert(s.begin() + 1, more.begin(), more.end());  // grows past the inline capacity
  CHECK(s == mg::Shape{7, 1, 2, 3, 4, 128, 784, 9});
  CHECK(s.capacity() >= 8);
  mg::Shape copy = s;
  mg::Shape moved = std::move(copy);
  CHECK(moved == s);
  CHECK(copy.empty());
  moved.erase(moved.begin());
  moved.resize(2);
  CHECK(moved == mg::Shape{1, 2});
  CHECK(mg::Shape(3, 1) == mg::Shape{1, 1, 1});
  CHECK(mg::shape_str({128, 784}) == "(128, 784)");
  CHECK_THROWS_AS(moved.at(2), std::out_of_range);
  // A rank-6 tensor: its shape lives on the heap, the op does not care.
  const mg::Tensor t = mg::ones({1, 2, 1, 2, 1, 2});
  CHECK(t.sum().item() == 8.0);
  CHECK(t.reshape({8}).shape() == mg::Shape{8});
}

TEST_CASE("TensorList: moves and copies keep every handle, inline and on the heap") {
  for (int count : {2, 6}) {
    mg::TensorList list;
    for (int i = 0; i < count; ++i) list.push_back(mg::full({1}, i));
    mg::TensorList copy = list;
    mg::TensorList moved = std::move(list);
    CHECK(list.empty());
    REQUIRE(moved.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      CHECK(moved[i].item() == i);
      CHECK(copy[i].impl() == moved[i].impl());
    }
    copy = std::move(moved);  // onto a list that already holds elements
    CHECK(copy.size() == static_cast<std::size_t>(count));
  }
}

TEST_CASE("BackwardFn: inline and pooled closures move, and one returning std::vector works") {
  const mg::Tensor g = mg::tensor({1.0, 2.0}, {.dtype = mg::kFloat64});
  std::array<double, 40> big{};  // 320 bytes of captures: too big for the inline room
  big[39] = 3.0;
  static_assert(sizeof(big) > mg::BackwardFn::kInlineBytes);
  mg::BackwardFn small = [g](const mg::Tensor& grad) { return mg::TensorList{grad + g}; };
  mg::BackwardFn large = [big](const mg::Tensor& grad) {
    return std::vector<mg::Tensor>{grad * big[39]};  // converted to a TensorList
  };
  for (mg::BackwardFn* fn : {&small, &large}) {
    mg::BackwardFn moved = std::move(*fn);
    CHECK_FALSE(*fn);
    *fn = std::move(moved);
    CHECK_FALSE(moved);
  }
  CHECK(small(g)[0].to_vector<double>() == std::vector<double>{2.0, 4.0});
  CHECK_THROWS_AS(mg::BackwardFn()(g), mg::Error);
  CHECK(large(g)[0].to_vector<double>() == std::vector<double>{3.0, 6.0});
  // Through record_op and backward.
  const mg::Tensor x = mg::tensor({1.0, 2.0}, {.dtype = mg::kFloat64, .requires_grad = true});
  mg::Tensor y = mg::record_op("scale3", (x * 3.0).detach(), {x}, std::move(large));
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3.0, 3.0});
}

TEST_CASE("small-object pool: blocks taken on one thread are released on another") {
  constexpr int kBlocks = 5000;  // several chunks of each size
  std::vector<void*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    const std::size_t bytes = 16 + (i % 64) * 16;
    auto* p = static_cast<unsigned char*>(mg::allocate_small(bytes));
    REQUIRE(reinterpret_cast<std::uintptr_t>(p) % mg::kSmallObjectAlignment == 0);
    std::fill_n(p, bytes, static_cast<unsigned char>(i));
    blocks.push_back(p);
  }
  for (int i = 0; i < kBlocks; ++i)  // no block overlaps another
    CHECK(*static_cast<unsigned char*>(blocks[i]) == static_cast<unsigned char>(i));
  std::thread([&] {
    for (int i = 0; i < kBlocks; ++i) mg::release_small(blocks[i], 16 + (i % 64) * 16);
  }).join();
  // Tensors made and dropped on two threads at once (checked after the join: Catch's assertions
  // are not thread-safe).
  std::atomic<int> wrong{0};
  auto churn = [&wrong] {
    for (int i = 0; i < 2000; ++i)
      if ((mg::ones({4, 3}) + 1.0).sum().item() != 24.0) ++wrong;
  };
  std::thread other(churn);
  churn();
  other.join();
  CHECK(wrong == 0);
}

TEST_CASE("small-object pool: a tensor with a graph held until static destruction") {
  released_at_exit = mg::ones({3}, {.requires_grad = true}) * 2.0;
  CHECK(released_at_exit.grad_fn() != nullptr);
}
