#!/usr/bin/python3
"""Writes reference.inc: PyTorch's numbers for the optim parity tests (tests/test_optim_parity.cpp).

Run from anywhere with the system interpreter, which has torch: /usr/bin/python3 generate.py
Every optimizer starts from the same float64 parameters and replays the same gradients, written
out in full so the C++ side needs no formula; trajectories are printed with 17 significant digits.
"""
import math
import os

import torch

STEPS = 20
SHAPES = [(2, 3), (4,)]
INIT = [[0.5, -1.25, 2.0, -0.75, 0.125, 3.0], [1.5, -0.5, 0.25, -2.0]]


def gradient(step, k):
    """Large early, small late (so amsgrad's running max matters), signs changing, one exact
    zero; parameter 1 has no gradient every fifth step (PyTorch skips it then)."""
    if k == 1 and step % 5 == 3:
        return None
    n = len(INIT[k])
    scale = 3.0 / (1.0 + step)
    return [0.0 if (k, i) == (0, 4) and step % 2 == 0
            else scale * math.sin(0.9 * step + 1.7 * i + 0.5 * k) + 0.01 * (i - 2)
            for i in range(n)]


GRADS = [[gradient(t, k) for k in range(len(SHAPES))] for t in range(STEPS)]

# (name, class, options for torch, options as the C++ test reads them, lr from step 10 on or None)
OPTIMIZERS = [
    ("sgd", torch.optim.SGD, dict(lr=0.1), None),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.1, momentum=0.9), 0.03),
    ("sgd_dampening", torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3), None),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), None),
    ("sgd_weight_decay", torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.1), None),
    ("adam", torch.optim.Adam, dict(lr=0.05), 0.01),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.05, amsgrad=True), None),
    ("adam_weight_decay", torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1), None),
    ("adamw", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1), None),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.2, amsgrad=True, eps=1e-3), None),
    ("rmsprop", torch.optim.RMSprop, dict(lr=0.01), None),
    ("rmsprop_momentum", torch.optim.RMSprop, dict(lr=0.01, momentum=0.9), 0.002),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5), None),
    ("rmsprop_weight_decay", torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.1, eps=1e-4), None),
]

# Parameter groups: parameter 0 in group 0, parameter 1 in group 1, each group with its own
# options (merged with the defaults as torch does; the C++ side gets the merged options), under a
# StepLR that scales every group's lr from its own base lr.
# (name, class, defaults, [group 0 options, group 1 options])
GROUP_CASES = [
    ("sgd_groups", torch.optim.SGD, dict(lr=0.1, momentum=0.9),
     [dict(weight_decay=0.1), dict(lr=0.02, momentum=0.5)]),
    ("adamw_groups", torch.optim.AdamW, dict(lr=0.05),
     [dict(weight_decay=0.2), dict(lr=0.01, weight_decay=0.0, amsgrad=True)]),
]
GROUP_STEP_SIZE = 4
GROUP_GAMMA = 0.5

SCHEDULERS = [
    ("StepLR", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
     dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), dict(gamma=0.9)),
    ("CosineAnnealingLR", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
     dict(T_max=10, eta_min=0.001)),
    ("LinearWarmup", lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0,
                                                                 total_iters=5),
     dict(warmup_steps=5, start_factor=0.25)),
]
SCHEDULER_BASE_LR = 0.1
SCHEDULER_EPOCHS = 25

CLIP_NORM_TYPES = [2.0, 1.0, 3.0, math.inf]
CLIP_MAX_NORM = 1.5


def num(x):
    return "kInf" if math.isinf(x) else "%.17g" % x


def vec(xs):
    return "{" + ", ".join(num(x) for x in xs) + "}"


def optimizer_options(cls, opts):
    """Options flattened to the names the C++ state_dict uses."""
    out = dict(opts)
    if "betas" in out:
        out["beta1"], out["beta2"] = out.pop("betas")
    return {k: float(v) for k, v in out.items()}


def run_optimizer(cls, opts, lr2):
    params = [torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_()
              for v, s in zip(INIT, SHAPES)]
    opt = cls(params, **opts)
    trajectory = []
    for t in range(STEPS):
        if lr2 is not None and t == 10:
            for group in opt.param_groups:
                group["lr"] = lr2
        for p, g in zip(params, GRADS[t]):
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float64).reshape(p.shape)
        opt.step()
        trajectory.append([p.detach().flatten().tolist() for p in params])
    return trajectory


def run_groups(cls, defaults, groups):
    params = [torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_()
              for v, s in zip(INIT, SHAPES)]
    opt = cls([dict(params=[p], **g) for p, g in zip(params, groups)], **defaults)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=GROUP_STEP_SIZE, gamma=GROUP_GAMMA)
    merged = [{k: v for k, v in g.items() if k not in ("params", "initial_lr", "foreach", "maximize",
                                                        "capturable", "differentiable", "fused")}
              for g in opt.param_groups]
    trajectory = []
    for t in range(STEPS):
        for p, g in zip(params, GRADS[t]):
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float64).reshape(p.shape)
        opt.step()
        sched.step()
        trajectory.append([p.detach().flatten().tolist() for p in params])
    return merged, trajectory


def run_scheduler(make):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=SCHEDULER_BASE_LR)
    sched = make(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(SCHEDULER_EPOCHS - 1):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


def run_clip(norm_type):
    params = [torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_()
              for v, s in zip(INIT, SHAPES)]
    for p, g in zip(params, GRADS[0]):
        p.grad = torch.tensor(g, dtype=torch.float64).reshape(p.shape)
    total = torch.nn.utils.clip_grad_norm_(params, CLIP_MAX_NORM, norm_type=norm_type).item()
    return total, [p.grad.flatten().tolist() for p in params]


def main():
    torch.set_default_dtype(torch.float64)
    out = [f"// Generated by tests/optim_reference/generate.py with torch {torch.__version__}. Do not edit.",
           "// Included by tests/test_optim_parity.cpp, which defines the Ref* types and kInf.",
           "",
           f"inline const std::vector<mg::Shape> kRefShapes = {{{', '.join(vec(s) for s in SHAPES)}}};",
           f"inline const std::vector<std::vector<double>> kRefInit = {{{', '.join(vec(v) for v in INIT)}}};",
           "// kRefGrads[step][param]; empty: that parameter has no gradient at that step.",
           "inline const std::vector<std::vector<std::vector<double>>> kRefGrads = {"]
    for grads in GRADS:
        out.append("    {" + ", ".join("{}" if g is None else vec(g) for g in grads) + "},")
    out.append("};")
    out.append("")
    out.append("// {name, optimizer, options, lr from step 10 on (0: unchanged), trajectory[step][param]}")
    out.append("inline const std::vector<RefOptimizerCase> kRefOptimizers = {")
    for name, cls, opts, lr2 in OPTIMIZERS:
        flat = optimizer_options(cls, opts)
        options = "{" + ", ".join(f'{{"{k}", {num(v)}}}' for k, v in flat.items()) + "}"
        out.append(f'    {{"{name}", "{cls.__name__}", {options}, {num(lr2 or 0.0)}, {{')
        for params in run_optimizer(cls, opts, lr2):
            out.append("        {" + ", ".join(vec(p) for p in params) + "},")
        out.append("    }},")
    out.append("};")
    out.append("")
    out.append("// Parameter k in group k: {name, optimizer, merged options per group, trajectory[step][param]};")
    out.append(f"// a StepLR(step_size {GROUP_STEP_SIZE}, gamma {num(GROUP_GAMMA)}) steps after every optimizer step.")
    out.append(f"inline constexpr int64_t kRefGroupStepSize = {GROUP_STEP_SIZE};")
    out.append(f"inline constexpr double kRefGroupGamma = {num(GROUP_GAMMA)};")
    out.append("inline const std::vector<RefGroupCase> kRefGroupCases = {")
    for name, cls, defaults, groups in GROUP_CASES:
        merged, trajectory = run_groups(cls, defaults, groups)
        options = ", ".join("{" + ", ".join(f'{{"{k}", {num(v)}}}' for k, v in optimizer_options(cls, g).items()) + "}"
                            for g in merged)
        out.append(f'    {{"{name}", "{cls.__name__}", {{{options}}}, {{')
        for params in trajectory:
            out.append("        {" + ", ".join(vec(p) for p in params) + "},")
        out.append("    }},")
    out.append("};")
    out.append("")
    out.append(f"inline constexpr double kRefSchedulerBaseLr = {num(SCHEDULER_BASE_LR)};")
    out.append("// {scheduler, options, lr at epochs 0, 1, ...}")
    out.append("inline const std::vector<RefSchedulerCase> kRefSchedulers = {")
    for name, make, opts in SCHEDULERS:
        options = "{" + ", ".join(f'{{"{k}", {num(float(v))}}}' for k, v in opts.items()) + "}"
        out.append(f'    {{"{name}", {options}, {vec(run_scheduler(make))}}},')
    out.append("};")
    out.append("")
    out.append(f"inline constexpr double kRefClipMaxNorm = {num(CLIP_MAX_NORM)};")
    out.append("// clip_grad_norm_ of kRefGrads[0]: {norm_type, total norm, clipped grads[param]}")
    out.append("inline const std::vector<RefClipCase> kRefClips = {")
    for norm_type in CLIP_NORM_TYPES:
        total, grads = run_clip(norm_type)
        out.append(f"    {{{num(norm_type)}, {num(total)}, {{{', '.join(vec(g) for g in grads)}}}}},")
    out.append("};")

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.inc")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
