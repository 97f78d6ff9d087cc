#!/usr/bin/python3
"""Writes math.inc: PyTorch's numbers for the math, reduction, dtype and NaN tests
(tests/test_ops_math.cpp).

Run with the system interpreter, which has torch: /usr/bin/python3 math.py
Each case names an op (the C++ test holds the same call under the same label), its inputs, its
outputs and, for float ops, the gradient of sum(out[0] * w) with respect to the first input, where
w[i] = 0.5 + i / n over out[0]'s n elements. Float inputs are multiples of 1/8, exact in float32,
and the references are computed in float64; the C++ side checks float32 and float64.
"""
import math
import os

import torch

INF = math.inf
NAN = math.nan


def f(values, shape=None):
    t = torch.tensor(values, dtype=torch.float64)
    return ("float", t.reshape(shape) if shape is not None else t)


def i(values, shape=None):
    t = torch.tensor(values, dtype=torch.int64)
    return ("int64", t.reshape(shape) if shape is not None else t)


def b(values, shape=None):
    t = torch.tensor(values, dtype=torch.bool)
    return ("bool", t.reshape(shape) if shape is not None else t)


GRID = [k / 8 for k in range(-20, 20, 3)][:12]  # 12 values in [-2.5, 2.5), one of them 0.25
X = f(GRID, (3, 4))
X234 = f([(k % 11 - 5) / 4 for k in range(24)], (2, 3, 4))
TIES = f([1, 3, 3, 0, 2, 2, 1, 0.5, -1, 3, -1, 3], (3, 4))

# (label, function of the input tensors -> tensor or tuple of tensors, inputs)
CASES = [
    ("sin", lambda x: x.sin(), [X]),
    ("cos", lambda x: x.cos(), [X]),
    ("log1p", lambda x: x.log1p(), [f([-0.875, -0.5, 0, 0.25, 1, 3.5])]),
    ("expm1", lambda x: x.expm1(), [X]),
    ("erf", lambda x: torch.erf(x), [X]),
    ("softplus", lambda x: torch.nn.functional.softplus(x), [X]),
    ("softplus beta 2 threshold 1", lambda x: torch.nn.functional.softplus(x, beta=2, threshold=1), [X]),
    ("silu", lambda x: torch.nn.functional.silu(x), [X]),
    ("elu", lambda x: torch.nn.functional.elu(x), [X]),
    ("elu alpha 0.5 at 0", lambda x: torch.nn.functional.elu(x, alpha=0.5), [f([-1, 0, 0.5])]),
    ("sum dims (0, 2)", lambda x: x.sum((0, 2)), [X234]),
    ("sum dims (-1, 0) keepdim", lambda x: x.sum((-1, 0), keepdim=True), [X234]),
    ("mean dims (1, 2)", lambda x: x.mean((1, 2)), [X234]),
    ("logsumexp dim 1", lambda x: x.logsumexp(1), [X234]),
    ("logsumexp dims (0, 2) keepdim", lambda x: x.logsumexp((0, 2), keepdim=True), [X234]),
    ("logsumexp -inf entries", lambda x: x.logsumexp(1), [f([0, -INF, 1, -INF, -INF, -INF, 2, 3, INF], (3, 3))]),
    ("var dim 1", lambda x: x.var(1), [X234]),
    ("var dims (0, 2) correction 0 keepdim", lambda x: x.var((0, 2), correction=0, keepdim=True), [X234]),
    ("var all", lambda x: x.var(), [X]),
    ("std dim -1", lambda x: x.std(-1), [X234]),
    ("std constant rows", lambda x: x.std(1), [f([2, 2, 2, 1, 2, 3], (2, 3))]),
    ("std all correction 0", lambda x: x.std((0, 1), correction=0), [X]),
    ("cumsum dim 1", lambda x: x.cumsum(1), [X234]),
    ("cumsum dim -1", lambda x: x.cumsum(-1), [X]),
    ("prod dim 1", lambda x: x.prod(1), [X234]),
    ("prod with zeros", lambda x: x.prod(1), [f([1.5, 0, 2, -1, 0, 0, 3, 0.5, -2], (3, 3))]),
    ("prod all", lambda x: x.prod(), [f([1.5, -0.5, 2, 0.75, -1.25, 2])]),
    ("sort", lambda x: x.sort(-1), [TIES]),
    ("sort descending dim 0", lambda x: x.sort(0, descending=True), [TIES]),
    ("sort NaN", lambda x: x.sort(-1), [f([1, NAN, -1, 0])]),
    # PyTorch leaves the order of tied values in topk open: ties are in the gradcheck registry.
    ("topk 2", lambda x: x.topk(2, -1), [X]),
    ("topk 3 smallest dim 0", lambda x: x.topk(2, 0, largest=False), [TIES]),
    ("norm", lambda x: x.norm(), [X]),
    ("norm p 1 dim 1", lambda x: x.norm(1, 1), [X]),
    ("norm p 3 dims (0, 2)", lambda x: x.norm(3, (0, 2)), [X234]),
    ("norm p inf dim 1", lambda x: x.norm(INF, 1), [TIES]),
    ("norm p 0", lambda x: x.norm(0), [f([0, 1.5, 0, -2])]),
    ("norm at 0", lambda x: x.norm(2, 1), [f([0, 0, 0, 1, 2, 2], (2, 3))]),
    ("one_hot", lambda x: torch.nn.functional.one_hot(x, 4), [i([0, 3, 1, 1], (2, 2))]),
    ("one_hot inferred", lambda x: torch.nn.functional.one_hot(x), [i([2, 0])]),
    # NaN and infinity
    ("relu NaN", lambda x: x.relu(), [f([NAN, -1, 0, 2])]),
    ("maximum NaN", lambda a, c: torch.maximum(a, c), [f([NAN, 1, 2, 0.5]), f([0, NAN, 2, 1])]),
    ("minimum NaN", lambda a, c: torch.minimum(a, c), [f([NAN, 1, 2, 0.5]), f([0, NAN, 2, 1])]),
    ("clamp NaN", lambda x: x.clamp(-1, 1), [f([NAN, -2, 0.5, 2])]),
    ("max NaN", lambda x: x.max(), [f([1, NAN, 3, NAN])]),
    ("min dim NaN", lambda x: x.min(1)[0], [f([1, NAN, 3, 0, -1, 2], (2, 3))]),
    ("argmax NaN", lambda x: x.argmax(1), [f([1, NAN, 3, 0, 5, 2, 4, 7, NAN], (3, 3))]),
    ("softmax -inf", lambda x: x.softmax(1), [f([0, -INF, 1, -INF, -INF, -INF, 2, 3, -INF], (3, 3))]),
    ("log_softmax -inf", lambda x: x.log_softmax(1), [f([0, -INF, 1, 2, -0.5, -INF], (2, 3))]),
    ("cross_entropy -inf", lambda x, t: torch.nn.functional.cross_entropy(x, t),
     [f([0, -INF, 1, 2, 0.5, -INF], (2, 3)), i([2, 0])]),
    ("cross_entropy -inf label smoothing", lambda x, t: torch.nn.functional.cross_entropy(x, t, label_smoothing=0.1),
     [f([0, -INF, 1, 2, 0.5, -INF], (2, 3)), i([2, 0])]),
    # masks and dtypes
    ("where", lambda c, x, y: torch.where(c, x, y), [b([True, False, True], (3, 1)), X, f([1, -1, 0.5, 2])]),
    ("masked_fill", lambda x, m: x.masked_fill(m, -1e9), [X, b([True, False, False, True])]),
    ("gt scalar", lambda x: x.gt(0.25), [X]),
    ("eq", lambda x, y: x.eq(y), [TIES, f([3, 3, 0, 2])]),
    ("mul bool", lambda x, m: x * m, [X, b([True, False, False, True])]),
    ("add int64 float", lambda n, x: n + x, [i([1, -2, 3, 4]), X]),
    ("add int64", lambda n, k: n + k, [i([1, -2, 3, 4]), i([10, 20, 30, 40])]),
    ("mul int64 scalar", lambda n: n * 3, [i([1, -2, 3, 4])]),
    ("mul int64 float scalar", lambda n: n * 2.5, [i([1, -2, 3, 4])]),
    ("add bool int64", lambda m, n: m + n, [b([True, False, True, False]), i([1, -2, 3, 4])]),
    ("add bool bool", lambda m, n: m + n, [b([True, False, True, False]), b([True, True, False, False])]),
    ("div int64", lambda n, k: n / k, [i([7, -7, 6, 1]), i([2, 2, -4, 3])]),
    ("floor_divide", lambda n, k: torch.floor_divide(n, k), [i([7, -7, 7, -7, 0, 6]), i([2, 2, -2, -2, 3, 3])]),
    ("sum bool", lambda m: m.sum(), [b([True, False, True, True])]),
    ("sum int64 dim 0", lambda n: n.sum(0), [i([1, 2, 3, 4, 5, 6], (2, 3))]),
    ("max int64 dim 1", lambda n: n.max(1)[0], [i([1, 9, 3, 4, -5, 6], (2, 3))]),
    ("argmax int64", lambda n: n.argmax(), [i([1, 9, 3, 9, -5, 6])]),
    ("cumsum bool", lambda m: m.cumsum(0), [b([True, False, True, True])]),
    ("prod int64", lambda n: n.prod(), [i([2, -3, 4])]),
    ("logical_and", lambda x, y: torch.logical_and(x, y), [b([True, True, False, False]), f([1, 0, 2, 0])]),
    ("logical_or", lambda x, y: torch.logical_or(x, y), [b([True, True, False, False]), f([1, 0, 2, 0])]),
    ("logical_not", lambda x: torch.logical_not(x), [f([1, 0, NAN, -2])]),
    ("to int64", lambda x: x.to(torch.int64), [f([1.75, -1.75, 0, 2.5])]),
    ("to bool", lambda x: x.to(torch.bool), [f([1.75, 0, NAN, -0.0])]),
    ("to float from bool", lambda m: m.to(torch.float64), [b([True, False])]),
]


def num(x):
    if math.isnan(x):
        return "kNaN"
    if math.isinf(x):
        return "kInf" if x > 0 else "-kInf"
    return "%.17g" % x


def ref(kind, t):
    shape = "{" + ", ".join(str(d) for d in t.shape) + "}"
    values = "{" + ", ".join(num(float(v)) for v in t.flatten().tolist()) + "}"
    return f'{{"{kind}", {shape}, {values}}}'


def kind_of(t, float_inputs):
    """"float" is the float dtype under test; results of int and bool inputs name their dtype."""
    if t.dtype.is_floating_point and float_inputs:
        return "float"
    return str(t.dtype).replace("torch.", "")


def weights(n):
    return torch.tensor([0.5 + k / n for k in range(n)], dtype=torch.float64)


def main():
    out = [f"// Generated by tests/op_reference/math.py with torch {torch.__version__}. Do not edit.",
           "// Included by tests/test_ops_math.cpp, which defines RefTensor, RefCase, kInf and kNaN.",
           "// {label, inputs, outputs, gradient of sum(out[0] * w) by input 0 (kind \"\" if none)}",
           "inline const std::vector<RefCase> kMathCases = {"]
    for label, fn, inputs in CASES:
        tensors = [t.clone().requires_grad_(kind == "float" and k == 0) for k, (kind, t) in enumerate(inputs)]
        result = fn(*tensors)
        outputs = list(result) if isinstance(result, tuple) else [result]
        grad = '{"", {}, {}}'
        if tensors[0].requires_grad and outputs[0].requires_grad:
            y = outputs[0]
            (y * weights(y.numel()).reshape(y.shape)).sum().backward()
            g = tensors[0].grad  # None: no path to the input (norm p 0), a zero gradient
            grad = ref("float", torch.zeros_like(tensors[0]) if g is None else g)
        ins = ", ".join(ref(kind, t) for kind, t in inputs)
        float_inputs = any(kind == "float" for kind, _ in inputs)
        outs = ", ".join(ref(kind_of(o, float_inputs), o.detach()) for o in outputs)
        out.append(f'    {{"{label}", {{{ins}}}, {{{outs}}}, {grad}}},')
    out.append("};")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "math.inc")
    with open(path + ".tmp", "w") as fh:
        fh.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
