#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/ranges.h>

#include <minigrad/minigrad.h>

#include "planted_ops.h"

namespace mg = minigrad;
using Catch::Matchers::Contains;

namespace {
mg::Tensor leaf(std::initializer_list<double> v) {
  return mg::tensor(v, {.dtype = mg::kFloat64, .requires_grad = true});
}
}  // namespace

TEST_CASE("autograd: backward of a scalar fills leaf gradients") {
  auto x = leaf({1.0, 2.0, 3.0});
  auto y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  CHECK(x.is_leaf());
  CHECK_FALSE(y.is_leaf());
  CHECK(y.grad_fn()->name == "sum");
}

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
  auto x = leaf({1.0, -1.0});
  (x * 3.0).sum().backward();
  (x * 3.0).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 3.0).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("autograd: a tensor used twice gets the sum of both paths") {
  auto x = leaf({2.0});
  auto y = x * x + x.exp() * x;  // 2x + e^x (1 + x)
  y.sum().backward();
  CHECK(x.grad().item() == Approx(4.0 + std::exp(2.0) * 3.0));
}

TEST_CASE("autograd: non-scalar outputs need an explicit gradient") {
  auto x = leaf({1.0, 2.0});
  auto y = x * 2.0;
  CHECK_THROWS_WITH(y.backward(), Contains("not a scalar") && Contains("(2,)"));
  y.backward(mg::tensor({1.0, 10.0}, {.dtype = mg::kFloat64}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 20});
  CHECK_THROWS_WITH((x * 2.0).backward(mg::tensor({1.0}, {.dtype = mg::kFloat64})),
                    Contains("(1,)") && Contains("(2,)"));
}

TEST_CASE("autograd: the graph is freed after backward unless retained") {
  auto x = leaf({1.0, 2.0});
  auto y = (x.exp() * 2.0).sum();
  y.backward(mg::Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK(x.grad().to_vector<double>()[0] == Approx(4 * std::exp(1.0)));
  CHECK_THROWS_WITH(y.backward(), Contains("already freed") && Contains("retain_graph"));
}

TEST_CASE("autograd: backward on something that needs no grad is a clear error") {
  auto x = mg::tensor({1.0, 2.0});
  CHECK_THROWS_WITH(x.sum().backward(), Contains("does not require grad"));
  auto w = leaf({1.0});
  mg::Tensor y;
  {
    mg::NoGradGuard no_grad;
    y = (w * 2.0).sum();
  }
  CHECK_FALSE(y.requires_grad());
  CHECK_THROWS_WITH(y.backward(), Contains("does not require grad"));
  CHECK(mg::grad_enabled());
}

TEST_CASE("autograd: detach cuts the graph and shares the buffer") {
  auto x = leaf({1.0, 2.0});
  auto y = x * 2.0;
  auto d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.raw_data() == y.raw_data());
  ((d + x) * x).sum().backward();  // d is a constant: grad = d + 2x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});
  CHECK_THROWS_WITH(y.requires_grad_(false), Contains("leaf"));
  CHECK_THROWS_WITH(mg::zeros({2}, {.dtype = mg::kInt64}).requires_grad_(), Contains("int64"));
}

TEST_CASE("autograd: a chain of 100,000 ops backprops and frees without stack overflow") {
  auto x = leaf({1.0});
  mg::Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  y.sum().backward();
  CHECK(x.grad().item() == 1.0);
  // Dropping a deep graph that never ran backward must not recurse either.
  mg::Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = z + 0.0;
  z = mg::Tensor();
  SUCCEED();
}

TEST_CASE("autograd: users define ops with record_op") {
  // cube(x) = x^3 with a hand-written backward 3x^2 g.
  auto cube = [](const mg::Tensor& x) {
    mg::Tensor out;
    {
      mg::NoGradGuard no_grad;
      out = x * x * x;
    }
    return mg::record_op("cube", out, {x}, [x](const mg::Tensor& g) { return mg::TensorList{g * x * x * 3.0}; });
  };
  auto x = leaf({1.0, -2.0, 0.5});
  auto y = cube(x);
  CHECK(y.grad_fn()->name == "cube");
  auto report = mg::gradcheck([&](const std::vector<mg::Tensor>& in) { return cube(in[0]); }, {x});
  CHECK(report.passed);
  INFO(report.message);
  // A wrong gradient shape is caught and named.
  auto bad = mg::record_op("bad_shape", x.detach() * 1.0, {x},
                           [](const mg::Tensor&) { return mg::TensorList{mg::zeros({5}, {.dtype = mg::kFloat64})}; });
  CHECK_THROWS_WITH(bad.sum().backward(), Contains("bad_shape") && Contains("(5,)") && Contains("(3,)"));
}

TEST_CASE("gradcheck: fails on an op whose backward is wrong, and says where") {
  auto x = leaf({1.0, 2.0, 3.0});
  auto report = mg::gradcheck([](const std::vector<mg::Tensor>& in) { return planted::wrong_square(in[0]); }, {x});
  CHECK_FALSE(report.passed);
  CHECK(report.input == 0);
  CHECK(report.index == mg::Shape{2});  // the largest error is at x = 3
  CHECK(report.analytic == Approx(3.0));
  CHECK(report.numeric == Approx(6.0));
  CHECK(report.abs_error == Approx(3.0));
  CHECK_THAT(report.message, Contains("FAILED") && Contains("analytic") && Contains("numeric"));
  CHECK_FALSE(x.grad().defined());  // the caller's tensors are untouched
}

TEST_CASE("gradcheck: refuses float32 inputs") {
  auto x = mg::tensor({1.0, 2.0}, {.requires_grad = true});
  CHECK_THROWS_WITH(mg::gradcheck([](const std::vector<mg::Tensor>& in) { return in[0].sum(); }, {x}),
                    Contains("float32") && Contains("float64"));
}

TEST_CASE("autograd: create_graph makes gradients differentiable") {
  auto x = leaf({0.5, -1.5});
  auto y = (x * x * x).sum();
  y.backward(mg::Tensor(), false, /*create_graph=*/true);
  mg::Tensor g = x.grad();  // 3x^2, itself a function of x
  CHECK(g.requires_grad());
  x.zero_grad();
  g.sum().backward();
  CHECK(x.grad().to_vector<double>()[0] == Approx(3.0));  // 6x
  CHECK(x.grad().to_vector<double>()[1] == Approx(-9.0));
}

TEST_CASE("autograd: a grad-ready hook runs once per backward, after the leaf's last gradient") {
  auto w = leaf({1.0, 2.0});
  auto b = leaf({0.5, 0.5});
  std::vector<std::string> events;
  // w feeds two ops, so its hook must wait for both; b's is ready after the first op to run.
  w.set_grad_ready_hook(
      [&](const mg::Tensor& t) { events.push_back(fmt::format("w {}", t.grad().to_vector<double>())); });
  b.set_grad_ready_hook(
      [&](const mg::Tensor& t) { events.push_back(fmt::format("b {}", t.grad().to_vector<double>())); });
  auto loss = ((w * 3.0).sum() + (w * b).sum()) * 2.0;
  loss.backward();
  REQUIRE(events.size() == 2);
  CHECK(events[1] == "w [7, 7]");  // 2 (3 + b)
  CHECK(std::count(events.begin(), events.end(), "b [2, 4]") == 1);
  // Again, with a leaf that gets no gradient from this graph: its hook does not run.
  events.clear();
  (w * 2.0).sum().backward();
  CHECK(events == std::vector<std::string>{"w [9, 9]"});  // accumulated: 7 + 2
  // On a leaf itself, and removed.
  events.clear();
  b.set_grad_ready_hook(nullptr);
  b.backward(mg::tensor({1.0, 1.0}, {.dtype = mg::kFloat64}));
  CHECK(events.empty());
  CHECK_THROWS_WITH(w.set_grad_ready_hook([](const mg::Tensor&) {}), Contains("has a hook already"));
  CHECK_THROWS_WITH((w * 2.0).set_grad_ready_hook([](const mg::Tensor&) {}), Contains("not a leaf"));
}

TEST_CASE("io: write_file_atomic replaces a file whole or not at all") {
  const std::string dir = fmt::format("/tmp/minigrad_io_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/file.txt";
  mg::write_file_atomic(path, "first");
  mg::write_file_atomic(path, "second");
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "second");
  CHECK_THROWS_WITH(mg::write_file_atomic(dir + "/missing/file.txt", "x"),
                    Contains("missing/file.txt") && Contains("No such file"));
  // A directory in the way of the rename: the error names it and no temporary is left behind.
  std::filesystem::create_directories(dir + "/blocker");
  CHECK_THROWS_WITH(mg::write_file_atomic(dir + "/blocker", "x"), Contains("blocker") && Contains("rename"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("io: read_file_limited reads regular files within the limit only; printable escapes and cuts") {
  const std::string dir = fmt::format("/tmp/minigrad_io_read_{}", ::getpid());
  std::filesystem::create_directories(dir);
  mg::write_file_atomic(dir + "/ten", "0123456789");
  CHECK(mg::read_file_limited(dir + "/ten", 10, "a test file") == "0123456789");
  CHECK_THROWS_WITH(mg::read_file_limited(dir + "/ten", 9, "a test file"),
                    Contains("ten: 10 bytes is larger than a test file can be (at most 9 bytes)"));
  CHECK_THROWS_WITH(mg::read_file_limited("/dev/null", 10, "a test file"),
                    Contains("/dev/null: is a character device, not a regular file (expected a test file)"));
  CHECK_THROWS_WITH(mg::read_file_limited(dir, 10, "a test file"), Contains("is a directory, not a regular file"));
  CHECK_THROWS_WITH(mg::read_file_limited(dir + "/none", 10, "a test file"),
                    Contains("none: cannot open: No such file"));
  std::filesystem::remove_all(dir);

  CHECK(mg::printable(std::string("a\0b\tc\nd\x1b", 8)) == "a\\x00b\\tc\\nd\\x1b");
  CHECK(mg::printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 is kept
  CHECK(mg::printable(std::string(100, 'x'), 10) == "xxxxxxxxxx... (100 bytes in all)");
}
