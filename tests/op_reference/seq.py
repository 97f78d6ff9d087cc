#!/usr/bin/python3
"""Writes seq.inc: PyTorch's numbers for tests/test_nn_seq.cpp (layer_norm, embedding,
MultiheadAttention, LSTM, GRU).

Run with the system interpreter, which has torch: /usr/bin/python3 seq.py
Each case is a list of named float64 tensors: the inputs, the module's parameters under PyTorch's
names ("param:<name>", loaded by the C++ side with load_state_dict, so the names and layouts are
checked too), the outputs ("out:<name>"), a cotangent ("cot:<output>") and the gradients of
sum(output * cotangent) ("grad:<input or param:name>"). Index tensors are stored as doubles.
"""
import os

import torch

GEN = torch.Generator().manual_seed(20261207)


def uniform(*shape, lo=-2.0, hi=2.0):
    return torch.rand(*shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo


def num(x):
    return "%.17g" % x


def run(name, inputs, fn, params=None, needs_grad=None):
    """inputs: {name: tensor}; fn(**inputs) -> {output name: tensor}; params: a module whose
    parameters are included and differentiated. Inputs named in needs_grad (default: every
    float input) get gradients."""
    tensors = dict(inputs)
    leaves = {k: v.requires_grad_() for k, v in inputs.items()
              if v.is_floating_point() and (needs_grad is None or k in needs_grad)}
    if params is not None:
        for k, p in params.named_parameters():
            tensors["param:" + k] = p
            leaves["param:" + k] = p
    outputs = fn(**inputs)
    total = 0
    for k, out in outputs.items():
        if out is None:
            continue
        tensors["out:" + k] = out
        if out.requires_grad:
            cot = uniform(*out.shape)
            tensors["cot:" + k] = cot
            total = total + (out * cot).sum()
    grads = torch.autograd.grad(total, list(leaves.values()), allow_unused=True)
    for k, g in zip(leaves, grads):
        tensors["grad:" + k] = g if g is not None else torch.zeros_like(leaves[k])
    return name, tensors


def layer_norm_cases():
    yield run("layer_norm (2, 3, 4) over (3, 4)",
              {"x": uniform(2, 3, 4), "weight": uniform(3, 4), "bias": uniform(3, 4)},
              lambda x, weight, bias: {"y": torch.nn.functional.layer_norm(x, (3, 4), weight, bias, 1e-5)})
    yield run("layer_norm (3, 5) over (5,) no affine, eps 0.01",
              {"x": uniform(3, 5)},
              lambda x: {"y": torch.nn.functional.layer_norm(x, (5,), None, None, 1e-2)})


def embedding_cases():
    idx = torch.tensor([[1, 4, 2, 2], [0, 4, 5, 2]])
    yield run("embedding (6, 3) at (2, 4) padding_idx 2",
              {"indices": idx, "weight": uniform(6, 3)},
              lambda indices, weight: {"y": torch.nn.functional.embedding(indices, weight, padding_idx=2)})


def randomize(module):
    """Every parameter drawn from GEN: PyTorch's zero-initialized biases would hide a layout error."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(uniform(*p.shape, lo=-0.8, hi=0.8))
    return module


def attention_cases():
    mha = randomize(torch.nn.MultiheadAttention(6, 2, batch_first=True))
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)  # True: may not attend
    padding = torch.tensor([[False, False, False, False], [False, False, True, True]])
    yield run("MultiheadAttention 6/2 self, causal bool mask, key padding",
              {"x": uniform(2, 4, 6), "attn_mask": causal, "key_padding_mask": padding},
              lambda x, attn_mask, key_padding_mask: dict(zip(
                  ("y", "weights"), mha(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask))),
              params=mha)
    mha = randomize(torch.nn.MultiheadAttention(6, 3, batch_first=True))
    yield run("MultiheadAttention 6/3 cross, float mask",
              {"query": uniform(2, 3, 6), "key": uniform(2, 5, 6), "value": uniform(2, 5, 6),
               "attn_mask": uniform(3, 5)},
              lambda query, key, value, attn_mask: dict(zip(("y", "weights"), mha(query, key, value, attn_mask=attn_mask))),
              params=mha, needs_grad={"query", "key", "value"})


def recurrent_cases():
    for cls in (torch.nn.LSTM, torch.nn.GRU):
        name = cls.__name__
        rnn = randomize(cls(3, 4, num_layers=2, batch_first=True))
        h0 = {"h0": uniform(2, 2, 4)}
        if cls is torch.nn.LSTM:
            h0["c0"] = uniform(2, 2, 4)

        def with_state(x, h0, c0=None, rnn=rnn):
            y, state = rnn(x, (h0, c0) if c0 is not None else h0)
            h, c = state if isinstance(state, tuple) else (state, None)
            return {"y": y, "h": h, "c": c}

        yield run(f"{name} 3->4, 2 layers, initial state", {"x": uniform(2, 5, 3), **h0}, with_state, params=rnn)
        rnn = randomize(cls(3, 4, bias=False, batch_first=True))

        def from_zeros(x, rnn=rnn):
            y, state = rnn(x)
            h, c = state if isinstance(state, tuple) else (state, None)
            return {"y": y, "h": h, "c": c}

        yield run(f"{name} 3->4 no bias, zero state", {"x": uniform(3, 2, 3)}, from_zeros, params=rnn)


def main():
    torch.set_default_dtype(torch.float64)
    cases = [*layer_norm_cases(), *embedding_cases(), *attention_cases(), *recurrent_cases()]
    out = [f"// Generated by tests/op_reference/seq.py with torch {torch.__version__}. Do not edit.",
           "// Included by tests/test_nn_seq.cpp, which defines RefTensor and RefCase.",
           "",
           "inline const std::vector<RefCase> kSeqCases = {"]
    for name, tensors in cases:
        out.append(f'    {{"{name}", {{')
        for k, t in tensors.items():
            t = t.detach().to(torch.float64)
            shape = "{" + ", ".join(str(d) for d in t.shape) + "}"
            values = "{" + ", ".join(num(v) for v in t.flatten().tolist()) + "}"
            out.append(f'        {{"{k}", {shape}, {values}}},')
        out.append("    }},")
    out.append("};")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seq.inc")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
