// Registry entries of the layout ops (permute to pad) and the matrix products. All are linear in
// each input, so every case is checked to second order; cases cover every axis, negative axes
// and indices, size-1 and empty axes, steps above 1 and broadcast batch axes.
#include "registry.h"

namespace minigrad::gradcheck_tool {

namespace {

using Inputs = std::vector<mg::Tensor>;
using mg::Shape;
using mg::Tensor;

// A case on random inputs of `shapes`, labelled by the shapes and what is special.
OpCase on(const std::vector<Shape>& shapes, const std::string& what, mg::GradcheckFn fn) {
  std::vector<std::string> names;
  for (const Shape& s : shapes) names.push_back(mg::shape_str(s));
  return {fmt::format("{} {}", fmt::join(names, ", "), what), uniform_inputs(shapes), std::move(fn)};
}

// The pieces of split and chunk, joined back in reverse so that each lands somewhere new.
Tensor rejoin(std::vector<Tensor> pieces, int64_t axis) {
  std::reverse(pieces.begin(), pieces.end());
  return mg::cat(pieces, axis);
}

void add_axis_ops(Registry& r) {
  OpEntry permute{.name = "permute"};
  for (const auto& [shape, axes] : std::vector<std::pair<Shape, Shape>>{{{2, 3, 4}, {2, 0, 1}},
                                                                        {{2, 3, 4}, {-1, 0, -2}},
                                                                        {{3, 1, 2}, {1, 2, 0}},
                                                                        {{2, 0, 3}, {2, 1, 0}},
                                                                        {{4}, {0}},
                                                                        {{}, {}}})
    permute.cases.push_back(
        on({shape}, "axes " + mg::shape_str(axes), [axes](const Inputs& in) { return in[0].permute(axes); }));
  r.add(std::move(permute));
  r.add({.name = "transpose",
         .composite = true,
         .cases = {on({{2, 3, 4}}, "axes 0, 2", [](const Inputs& in) { return in[0].transpose(0, 2); }),
                   on({{2, 3, 4}}, "axes -1, 1", [](const Inputs& in) { return in[0].transpose(-1, 1); }),
                   on({{3}}, "axes 0, -1", [](const Inputs& in) { return in[0].transpose(0, -1); }),
                   on({{3, 5}}, "t()", [](const Inputs& in) { return in[0].t(); })}});
  r.add({.name = "squeeze",
         .composite = true,
         .cases = {on({{2, 1, 3, 1}}, "all", [](const Inputs& in) { return in[0].squeeze(); }),
                   on({{2, 1, 3, 1}}, "axis 1", [](const Inputs& in) { return in[0].squeeze(1); }),
                   on({{2, 1, 3, 1}}, "axis -1", [](const Inputs& in) { return in[0].squeeze(-1); }),
                   on({{2, 1, 3, 1}}, "axis 0 (size 2: unchanged)", [](const Inputs& in) { return in[0].squeeze(0); }),
                   on({{1}}, "all, to 0-d", [](const Inputs& in) { return in[0].squeeze(); })}});
  OpEntry unsqueeze{.name = "unsqueeze", .composite = true};
  for (int64_t axis : {0, 2, -1, -3})
    unsqueeze.cases.push_back(
        on({{2, 3}}, fmt::format("axis {}", axis), [axis](const Inputs& in) { return in[0].unsqueeze(axis); }));
  unsqueeze.cases.push_back(on({{}}, "axis 0", [](const Inputs& in) { return in[0].unsqueeze(0); }));
  r.add(std::move(unsqueeze));
  OpEntry flip{.name = "flip"};
  for (const auto& [shape, axes] : std::vector<std::pair<Shape, Shape>>{
           {{2, 3, 4}, {0}}, {{2, 3, 4}, {-1, 1}}, {{2, 3, 4}, {0, 1, 2}}, {{3, 1}, {1}}, {{3, 4}, {}}, {{0, 2}, {0}}})
    flip.cases.push_back(
        on({shape}, "axes " + mg::shape_str(axes), [axes](const Inputs& in) { return in[0].flip(axes); }));
  r.add(std::move(flip));
}

void add_slicing(Registry& r) {
  struct Slice {
    Shape shape;
    int64_t axis, start, end, step;
  };
  OpEntry slice{.name = "slice"};
  for (const Slice& s : std::vector<Slice>{{{5, 4}, 0, 1, 4, 1},
                                           {{5, 4}, 1, 0, 4, 2},
                                           {{2, 3, 7}, -1, -6, -1, 3},
                                           {{2, 3, 7}, 1, 1, 3, 1},
                                           {{5, 4}, 0, -100, 100, 2},
                                           {{5, 4}, 0, 3, 1, 1},
                                           {{1, 4}, 0, 0, 1, 1},
                                           {{0, 3}, 1, 1, 3, 1},
                                           {{6}, 0, 1, INT64_MAX, 4}})
    slice.cases.push_back(on({s.shape}, fmt::format("axis {} [{}:{}:{}]", s.axis, s.start, s.end, s.step),
                             [s](const Inputs& in) { return in[0].slice(s.axis, s.start, s.end, s.step); }));
  r.add(std::move(slice));
  r.add({.name = "narrow",
         .composite = true,
         .cases = {on({{4, 5}}, "axis 1 start -3 length 2", [](const Inputs& in) { return in[0].narrow(1, -3, 2); }),
                   on({{4, 5}}, "axis 0 start 4 length 0", [](const Inputs& in) { return in[0].narrow(0, 4, 0); })}});
  r.add({.name = "select",
         .composite = true,
         .cases = {on({{3, 4}}, "axis 0 index 1", [](const Inputs& in) { return in[0].select(0, 1); }),
                   on({{3, 4}}, "axis -1 index -1", [](const Inputs& in) { return in[0].select(-1, -1); }),
                   on({{2, 3, 4}}, "axis 1 index 2", [](const Inputs& in) { return in[0].select(1, 2); })}});
  r.add({.name = "split",
         .composite = true,
         .cases = {on({{7, 3}}, "size 3 axis 0", [](const Inputs& in) { return rejoin(in[0].split(3, 0), 0); }),
                   on({{2, 5}}, "sizes {1, 0, 4} axis -1",
                      [](const Inputs& in) {
                        return rejoin(in[0].split(std::vector<int64_t>{1, 0, 4}, -1), -1);
                      }),
                   on({{2, 0}}, "size 0 axis 1", [](const Inputs& in) { return rejoin(in[0].split(0, 1), 1); })}});
  r.add({.name = "chunk",
         .composite = true,
         .cases = {on({{7, 2}}, "3 chunks axis 0", [](const Inputs& in) { return rejoin(in[0].chunk(3, 0), 0); }),
                   on({{2, 6}}, "4 chunks axis -1 (3 pieces)",
                      [](const Inputs& in) { return rejoin(in[0].chunk(4, -1), -1); })}});
}

void add_joining(Registry& r) {
  const auto cat_on = [](int64_t axis) { return [axis](const Inputs& in) { return mg::cat(in, axis); }; };
  r.add({.name = "cat",
         .cases = {on({{2, 3}, {4, 3}}, "axis 0", cat_on(0)), on({{2, 3}, {2, 1}, {2, 4}}, "axis -1", cat_on(-1)),
                   on({{2, 3, 2}, {2, 0, 2}, {2, 1, 2}}, "axis 1, an empty one", cat_on(1)),
                   on({{2, 3}, {0}}, "axis 1, a 1-D empty one skipped", cat_on(1)),
                   on({{3}}, "axis 0, one tensor", cat_on(0))}});
  const auto stack_on = [](int64_t axis) { return [axis](const Inputs& in) { return mg::stack(in, axis); }; };
  r.add({.name = "stack",
         .composite = true,
         .cases = {on({{2, 3}, {2, 3}, {2, 3}}, "axis 0", stack_on(0)), on({{2, 3}, {2, 3}}, "axis 1", stack_on(1)),
                   on({{2, 3}, {2, 3}}, "axis -1", stack_on(-1)), on({{}, {}}, "0-d, axis 0", stack_on(0))}});
  OpEntry repeat{.name = "repeat"};
  for (const auto& [shape, repeats] : std::vector<std::pair<Shape, Shape>>{
           {{2, 3}, {2, 2}}, {{2, 1, 3}, {1, 3, 2}}, {{3}, {2, 1, 2}}, {{2, 3}, {0, 1}}, {{}, {3}}, {{2, 0}, {2, 3}}})
    repeat.cases.push_back(on({shape}, "repeats " + mg::shape_str(repeats),
                              [repeats](const Inputs& in) { return in[0].repeat(repeats); }));
  r.add(std::move(repeat));
  struct Pad {
    Shape shape;
    std::vector<int64_t> pads;
    double value;
  };
  OpEntry pad{.name = "pad"};
  for (const Pad& p : std::vector<Pad>{{{2, 3}, {1, 2}, 0.0},
                                       {{2, 3, 4}, {1, 0, 0, 2}, 0.5},
                                       {{2, 3, 4}, {-1, 1, 0, 0, 1, -1}, 0.0},
                                       {{2, 3}, {0, 0, -2, 0}, 0.0},
                                       {{0, 3}, {1, 1}, 1.0},
                                       {{2, 3}, {}, 0.0}})
    pad.cases.push_back(on({p.shape}, fmt::format("pads ({}) value {}", fmt::join(p.pads, ", "), p.value),
                           [p](const Inputs& in) { return mg::pad(in[0], p.pads, p.value); }));
  r.add(std::move(pad));
}

void add_products(Registry& r) {
  const auto matmul = [](const Inputs& in) { return in[0].matmul(in[1]); };
  OpEntry mm{.name = "matmul"};
  for (const auto& [a, b] : std::vector<std::pair<Shape, Shape>>{{{3, 4}, {4, 5}},
                                                                 {{4}, {4, 3}},
                                                                 {{3, 4}, {4}},
                                                                 {{5}, {5}},
                                                                 {{3, 0}, {0, 2}},
                                                                 {{2, 3, 4}, {4, 5}},
                                                                 {{2, 3, 4}, {4}},
                                                                 {{0, 3, 4}, {4, 2}}})
    mm.cases.push_back(on({a, b}, "", matmul));
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      if (ta || tb)
        mm.cases.push_back(on({ta ? Shape{4, 3} : Shape{3, 4}, tb ? Shape{5, 4} : Shape{4, 5}},
                              fmt::format("mm{}{}", ta ? " A^T" : "", tb ? " B^T" : ""),
                              [=](const Inputs& in) { return mg::mm(in[0], in[1], ta, tb); }));
  r.add(std::move(mm));
  OpEntry bmm{.name = "bmm"};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      bmm.cases.push_back(on({ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, tb ? Shape{2, 5, 4} : Shape{2, 4, 5}},
                             fmt::format("bmm{}{}", ta ? " A^T" : "", tb ? " B^T" : ""),
                             [=](const Inputs& in) { return mg::bmm(in[0], in[1], ta, tb); }));
  bmm.cases.push_back(
      on({{1, 2, 3}, {1, 3, 2}}, "bmm, batch 1", [](const Inputs& in) { return mg::bmm(in[0], in[1]); }));
  bmm.cases.push_back(on({{2, 3, 0}, {2, 0, 4}}, "bmm, K = 0", [](const Inputs& in) { return mg::bmm(in[0], in[1]); }));
  // matmul's batched forms: broadcast batch axes, a vector on either side, empty batches.
  for (const auto& [a, b] : std::vector<std::pair<Shape, Shape>>{{{2, 3, 4}, {2, 4, 5}},
                                                                 {{2, 1, 3, 4}, {3, 4, 2}},
                                                                 {{3, 4}, {2, 4, 5}},
                                                                 {{4}, {2, 4, 3}},
                                                                 {{1, 3, 4}, {2, 1, 4, 2}},
                                                                 {{0, 2, 3}, {0, 3, 2}}})
    bmm.cases.push_back(on({a, b}, "matmul", matmul));
  r.add(std::move(bmm));
}

}  // namespace

void add_views(Registry& r) {
  add_axis_ops(r);
  add_slicing(r);
  add_joining(r);
  add_products(r);
}

}  // namespace minigrad::gradcheck_tool
