#include <catch2/catch.hpp>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
using Catch::Matchers::Contains;

TEST_CASE("tensor: factories fill shape, dtype and values") {
  auto z = mg::zeros({2, 3});
  CHECK(z.shape() == mg::Shape{2, 3});
  CHECK(z.dtype() == mg::kFloat32);
  CHECK(z.numel() == 6);
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(mg::ones({4}, {.dtype = mg::kFloat64}).to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(mg::full({2}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f});
  CHECK(mg::arange(5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(mg::arange(1.0, 2.0, 0.25).numel() == 4);
  auto t = mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  CHECK(t.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(mg::tensor({1.0, 2.0}).shape() == mg::Shape{2});
  CHECK(mg::zeros_like(t).shape() == t.shape());
  CHECK(mg::ones_like(t).dtype() == t.dtype());
  CHECK(mg::tensor(std::vector<int64_t>{3, 1}, {2}).dtype() == mg::kInt64);
}

TEST_CASE("tensor: buffers are 64-byte aligned and reuse the cache") {
  mg::empty_cache();
  for (int shape : {1, 7, 1000, 12345}) {
    auto t = mg::empty({shape});
    CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
  }
  { auto warm = mg::empty({256, 256}); }
  const auto before = mg::allocator_stats();
  for (int i = 0; i < 10; ++i) auto t = mg::empty({256, 256});
  const auto after = mg::allocator_stats();
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.cache_hits == before.cache_hits + 10);
}

TEST_CASE("tensor: item, to_vector and dtype conversion") {
  CHECK(mg::full({1, 1}, 3.0).item() == 3.0);
  CHECK_THROWS_WITH(mg::zeros({2}).item(), Contains("(2,)") && Contains("2 elements"));
  auto d = mg::tensor({1.5, -2.25}).to(mg::kFloat64);
  CHECK(d.dtype() == mg::kFloat64);
  CHECK(d.to_vector<double>() == std::vector<double>{1.5, -2.25});
  CHECK(mg::tensor({1.9, -2.9}).to(mg::kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, -2});
  CHECK_THROWS_WITH(mg::zeros({2}).data<double>(), Contains("float32"));
}

TEST_CASE("tensor: seeded random generators are reproducible") {
  mg::Generator g1(42), g2(42), g3(43);
  auto a = mg::randn({100}, {}, &g1), b = mg::randn({100}, {}, &g2), c = mg::randn({100}, {}, &g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  mg::Generator g(7);
  auto u = mg::rand({20000}, {.dtype = mg::kFloat64}, &g);
  CHECK(u.min().item() >= 0.0);
  CHECK(u.max().item() < 1.0);
  CHECK(u.mean().item() == Approx(0.5).margin(0.01));
  auto n = mg::randn({20000}, {.dtype = mg::kFloat64}, &g);
  CHECK(n.mean().item() == Approx(0.0).margin(0.03));
  CHECK((n * n).mean().item() == Approx(1.0).margin(0.04));
  mg::manual_seed(5);
  auto x = mg::rand({3});
  mg::manual_seed(5);
  CHECK(mg::rand({3}).to_vector<float>() == x.to_vector<float>());
}

TEST_CASE("tensor: a generator's saved state continues its exact stream, spare normal included") {
  mg::Generator g(11);
  g.normal();  // leaves the second Box-Muller value pending
  const mg::Generator::State saved = g.state();
  const double next_normal = g.normal(), next_uniform = g.uniform();
  mg::Generator other(99);
  other.set_state(saved);
  CHECK(other.normal() == next_normal);  // the pending spare, not a fresh pair
  CHECK(other.uniform() == next_uniform);
  CHECK_THROWS_WITH(other.set_state({0, 0, 0, 0, 0, 0}), Catch::Matchers::Contains("all zeros"));
  CHECK_THROWS_WITH(other.set_state({1, 2, 3, 4, 0, 7}), Catch::Matchers::Contains("flag is 7"));
}

TEST_CASE("tensor: Generator::discard(n) lands where n draws do, and leaves a pending normal pending") {
  // Below 256 steps it steps; above, each set bit from 2^8 up is one jump.
  for (uint64_t n : {0ull, 1ull, 255ull, 256ull, 257ull, 4096ull, 12345ull, 65613ull, 300001ull}) {
    mg::Generator jumped(3), stepped(3);
    jumped.discard(n);
    for (uint64_t i = 0; i < n; ++i) stepped.next_u64();
    CHECK(jumped.state() == stepped.state());
  }
  mg::Generator once(9), twice(9);  // jumps too long to step compose
  once.discard((1ull << 63) + (1ull << 40) + 5);
  twice.discard(1ull << 63);
  twice.discard((1ull << 40) + 5);
  CHECK(once.state() == twice.state());
  mg::Generator g(4);
  g.normal();
  const mg::Generator::State before = g.state();
  g.discard(1000);
  CHECK(g.state()[4] == before[4]);
  CHECK(g.state()[5] == 1);
}

TEST_CASE("tensor: Generator::fill_uniform draws what n uniform() calls would, in four lanes") {
  // Below 4 x 1024 one lane; above, four stretches and a tail of up to 4 x 256 - 1 draws.
  for (int64_t n : {0, 5, 4095, 4096, 10000, 70001}) {
    mg::Generator serial(8), lanes64(8), lanes32(8);
    std::vector<double> expected(static_cast<size_t>(n)), got64(expected.size());
    std::vector<float> got32(expected.size());
    for (auto& x : expected) x = serial.uniform();
    lanes64.fill_uniform(got64.data(), n);
    lanes32.fill_uniform(got32.data(), n);
    CHECK(got64 == expected);
    int64_t float_mismatches = 0;
    for (size_t i = 0; i < expected.size(); ++i) float_mismatches += got32[i] != static_cast<float>(expected[i]);
    CHECK(float_mismatches == 0);
    CHECK(lanes64.state() == serial.state());
    CHECK(lanes32.state() == serial.state());
  }
}

TEST_CASE("tensor: printing shows values, shape and dtype, abbreviated when large") {
  auto t = mg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  const std::string s = fmt::format("{}", t);
  CHECK_THAT(s, Contains("1.0000") && Contains("shape=(2, 2)") && Contains("dtype=float32"));
  const std::string big = fmt::format("{}", mg::zeros({100, 100}));
  CHECK_THAT(big, Contains("..."));
  CHECK(big.size() < 2000);
  CHECK_THAT(fmt::format("{}", mg::zeros({2}, {.requires_grad = true})), Contains("requires_grad"));
  CHECK_THAT(fmt::format("{}", mg::zeros({0, 3})), Contains("[]"));
  CHECK_THAT(fmt::format("{}", mg::tensor(std::vector<int64_t>{7}, {1})), Contains("[7]"));
}

TEST_CASE("tensor: reshape and flatten share the buffer") {
  auto t = mg::arange(12).reshape({3, 4});
  CHECK(t.shape() == mg::Shape{3, 4});
  auto f = t.flatten();
  CHECK(f.raw_data() == t.raw_data());
  CHECK(t.reshape({2, -1}).shape() == mg::Shape{2, 6});
  CHECK(mg::zeros({2, 3, 4}).flatten(1).shape() == mg::Shape{2, 12});
  CHECK_THROWS_WITH(t.reshape({5, -1}), Contains("reshape") && Contains("(3, 4)"));
  CHECK_THROWS_WITH(t.reshape({5, 5}), Contains("(5, 5)") && Contains("12 elements"));
}

TEST_CASE("tensor: shape and dtype errors name the op and the shapes") {
  auto a = mg::zeros({128, 784}), b = mg::zeros({512, 256});
  CHECK_THROWS_WITH(a.matmul(b),
                    Contains("matmul") && Contains("(128, 784)") && Contains("(512, 256)") && Contains("784 and 512"));
  CHECK_THROWS_WITH(mg::zeros({2, 3}) + mg::zeros({4}), Contains("add") && Contains("(2, 3)") && Contains("(4,)"));
  CHECK_THROWS_WITH(mg::ones({2}, {.dtype = mg::kBool}) - mg::ones({2}, {.dtype = mg::kBool}),
                    Contains("sub") && Contains("bool"));
  CHECK_THROWS_WITH(mg::zeros({2, 3}).sum(2), Contains("sum") && Contains("axis 2"));
  CHECK_THROWS_WITH(mg::zeros({2, 3}).softmax(-3), Contains("softmax") && Contains("axis -3"));
  CHECK_THROWS_WITH(mg::zeros({0}).max(), Contains("max") && Contains("empty"));
  auto idx = mg::tensor(std::vector<int64_t>{0, 5}, {2, 1});
  CHECK_THROWS_WITH(mg::zeros({2, 3}).gather(1, idx), Contains("gather") && Contains("index 5") && Contains("size 3"));
  CHECK_THROWS_WITH(mg::zeros({2, 3}).gather(1, mg::zeros({2, 1})), Contains("int64"));
  CHECK_THROWS_WITH(mg::zeros({2}).exp().to(mg::kInt64).exp(), Contains("exp") && Contains("int64"));
  CHECK_THROWS_WITH(mg::zeros({2}).clamp(1, 0), Contains("clamp"));
}
