#!/usr/bin/python3
"""Writes shape.inc: PyTorch's outputs of the layout ops and matrix products for
tests/test_ops_shape.cpp.

Run from anywhere with the system interpreter, which has torch: /usr/bin/python3 shape.py
Inputs are multiples of 1/8 in [-4, 4], so every output (products included: few, small terms) is
exact in float32 as in float64; the script checks that PyTorch's float32 and float64 results
agree exactly, which lets the C++ test require exact equality in both dtypes (and, for the ops
that only move elements, in int64 on the inputs times 8).
"""
import os

import torch
import torch.nn.functional as F

# (op, integer arguments, fill value, input shapes). The C++ test applies the op by these names
# and arguments; `run` below is their meaning in PyTorch.
CASES = [
    ("permute", [2, 0, 1], 0.0, [(2, 3, 4)]),
    ("permute", [-1, 0, -2], 0.0, [(2, 3, 4)]),
    ("permute", [1, 0], 0.0, [(1, 5)]),
    ("permute", [0, 2, 1], 0.0, [(2, 0, 3)]),
    ("permute", [], 0.0, [()]),
    ("transpose", [0, 2], 0.0, [(2, 3, 4)]),
    ("transpose", [-1, -2], 0.0, [(3, 2)]),
    ("squeeze", [], 0.0, [(2, 1, 3, 1)]),
    ("squeeze", [1], 0.0, [(2, 1, 3)]),
    ("squeeze", [0], 0.0, [(2, 1, 3)]),
    ("squeeze", [-1], 0.0, [(3, 1)]),
    ("unsqueeze", [0], 0.0, [(2, 3)]),
    ("unsqueeze", [-1], 0.0, [(2, 3)]),
    ("unsqueeze", [1], 0.0, [(2, 3)]),
    ("unsqueeze", [0], 0.0, [()]),
    ("slice", [0, 1, 4, 1], 0.0, [(5, 4)]),
    ("slice", [1, 0, 4, 2], 0.0, [(5, 4)]),
    ("slice", [-1, -6, -1, 3], 0.0, [(2, 3, 7)]),
    ("slice", [0, -100, 100, 2], 0.0, [(5, 4)]),
    ("slice", [0, 3, 1, 1], 0.0, [(5, 4)]),
    ("slice", [1, 2, 100, 5], 0.0, [(2, 9)]),
    ("narrow", [1, -3, 2], 0.0, [(4, 5)]),
    ("narrow", [0, 4, 0], 0.0, [(4, 5)]),
    ("select", [0, 1], 0.0, [(3, 4)]),
    ("select", [-1, -1], 0.0, [(3, 4)]),
    ("select", [1, 2], 0.0, [(2, 3, 4)]),
    ("split", [3, 0], 0.0, [(7, 2)]),
    ("split", [2, -1], 0.0, [(2, 4)]),
    ("split", [10, 1], 0.0, [(2, 4)]),
    ("split_sizes", [-1, 1, 0, 3], 0.0, [(2, 4)]),
    ("chunk", [3, 0], 0.0, [(7, 2)]),
    ("chunk", [4, 1], 0.0, [(2, 6)]),
    ("chunk", [3, 0], 0.0, [(0, 2)]),
    ("cat", [0], 0.0, [(2, 3), (1, 3)]),
    ("cat", [-1], 0.0, [(2, 3), (2, 1), (2, 2)]),
    ("cat", [1], 0.0, [(2, 2, 2), (2, 0, 2), (2, 1, 2)]),
    ("cat", [0], 0.0, [(0,), (2, 3), (0,)]),
    ("stack", [0], 0.0, [(2, 3), (2, 3)]),
    ("stack", [-1], 0.0, [(2, 3), (2, 3), (2, 3)]),
    ("stack", [0], 0.0, [(), ()]),
    ("repeat", [2, 2], 0.0, [(2, 3)]),
    ("repeat", [1, 3, 2], 0.0, [(2, 1, 3)]),
    ("repeat", [2, 1, 2], 0.0, [(3,)]),
    ("repeat", [0, 2], 0.0, [(2, 3)]),
    ("repeat", [3], 0.0, [()]),
    ("flip", [0], 0.0, [(2, 3, 4)]),
    ("flip", [-1, 1], 0.0, [(2, 3, 4)]),
    ("flip", [0, 1, 2], 0.0, [(2, 3, 4)]),
    ("flip", [], 0.0, [(3, 2)]),
    ("pad", [1, 2], 0.0, [(2, 3)]),
    ("pad", [1, 0, 0, 2], 0.5, [(2, 3, 4)]),
    ("pad", [-1, 1, 0, 0, 1, -1], -1.25, [(2, 3, 4)]),
    ("pad", [0, 0, -2, 0], 0.0, [(2, 3)]),
    ("pad", [2, 1], 3.0, [(0, 3)]),
    ("matmul", [], 0.0, [(3, 4), (4, 5)]),
    ("matmul", [], 0.0, [(4,), (4, 3)]),
    ("matmul", [], 0.0, [(3, 4), (4,)]),
    ("matmul", [], 0.0, [(5,), (5,)]),
    ("matmul", [], 0.0, [(2, 3, 4), (4, 5)]),
    ("matmul", [], 0.0, [(2, 3, 4), (4,)]),
    ("matmul", [], 0.0, [(4,), (2, 4, 3)]),
    ("matmul", [], 0.0, [(2, 3, 4), (2, 4, 5)]),
    ("matmul", [], 0.0, [(2, 1, 3, 4), (3, 4, 2)]),
    ("matmul", [], 0.0, [(3, 4), (2, 4, 5)]),
    ("matmul", [], 0.0, [(3, 0), (0, 2)]),
    ("matmul", [], 0.0, [(0, 2, 3), (0, 3, 2)]),
    ("bmm", [0, 0], 0.0, [(2, 3, 4), (2, 4, 5)]),
    ("bmm", [1, 0], 0.0, [(2, 4, 3), (2, 4, 5)]),
    ("bmm", [0, 1], 0.0, [(2, 3, 4), (2, 5, 4)]),
    ("bmm", [1, 1], 0.0, [(2, 4, 3), (2, 5, 4)]),
    ("bmm", [0, 0], 0.0, [(3, 2, 0), (3, 0, 4)]),
]


def run(op, args, value, xs):
    """The op in PyTorch; a list of outputs."""
    x = xs[0]
    if op == "permute":
        return [x.permute(args)]
    if op == "transpose":
        return [x.transpose(*args)]
    if op == "squeeze":
        return [x.squeeze(*args)]
    if op == "unsqueeze":
        return [x.unsqueeze(*args)]
    if op == "slice":
        return [torch.ops.aten.slice(x, *args)]
    if op == "narrow":
        return [x.narrow(*args)]
    if op == "select":
        return [x.select(*args)]
    if op == "split":
        return list(x.split(args[0], args[1]))
    if op == "split_sizes":
        return list(x.split(args[1:], args[0]))
    if op == "chunk":
        return list(x.chunk(args[0], args[1]))
    if op == "cat":
        return [torch.cat(xs, args[0])]
    if op == "stack":
        return [torch.stack(xs, args[0])]
    if op == "repeat":
        return [x.repeat(args)]
    if op == "flip":
        return [x.flip(args)]
    if op == "pad":
        return [F.pad(x, args, value=value)]
    if op == "matmul":
        return [torch.matmul(*xs)]
    if op == "bmm":
        a, b = xs
        return [torch.bmm(a.transpose(1, 2) if args[0] else a, b.transpose(1, 2) if args[1] else b)]
    raise ValueError(op)


def num(x):
    return "%.17g" % x


def tensor(t):
    shape = "{" + ", ".join(str(n) for n in t.shape) + "}"
    return "{" + shape + ", {" + ", ".join(num(v) for v in t.flatten().tolist()) + "}}"


def main():
    gen = torch.Generator().manual_seed(0)
    out = [f"// Generated by tests/op_reference/shape.py with torch {torch.__version__}. Do not edit.",
           "// Included by tests/test_ops_shape.cpp, which defines RefTensor and RefCase.",
           "// {op, integer arguments, fill value, inputs, outputs}; every value a multiple of 1/8.",
           "inline const std::vector<RefCase> kRefCases = {"]
    for op, args, value, shapes in CASES:
        xs = [torch.randint(-32, 33, s, generator=gen, dtype=torch.float64) / 8 for s in shapes]
        ys = run(op, args, value, xs)
        ys32 = run(op, args, value, [x.float() for x in xs])
        for y, y32 in zip(ys, ys32):
            assert torch.equal(y, y32.double()), f"{op} {args}: float32 and float64 differ"
        out.append(f'    {{"{op}", {{{", ".join(str(a) for a in args)}}}, {num(value)},')
        out.append("     {" + ", ".join(tensor(x) for x in xs) + "},")
        out.append("     {" + ", ".join(tensor(y) for y in ys) + "}},")
    out.append("};")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shape.inc")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
