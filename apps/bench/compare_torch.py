#!/usr/bin/python3
"""minigrad against PyTorch on one training epoch, in one run, and the ratio table.

The workload (the same on both sides), --model mlp: 784-512-256-10 ReLU MLP, Adam lr 1e-3,
batch 128, the 60,000 Fashion-MNIST training images in a shuffled order, then the forward pass
over the 10,000 test images. --model cnn: the `cnn` recipe's network (see bench_epoch.cpp),
AdamW, batch 128, NCHW; --images N trains on the first N images to keep its epoch short. Each (side, thread count) runs in its own process for --epochs epochs; the rounds
alternate between the sides so that a load on a shared machine hits both alike. Times are medians
over all epochs but each process's first (warm-up).

  /usr/bin/python3 apps/bench/compare_torch.py [--bench build/apps/bench/bench_epoch]
      [--model mlp|cnn] [--images N] [--rounds 3] [--epochs 3] [--threads 1,2] [--blas-dir DIR]

PyTorch is optional: without it the script says so, prints minigrad's own numbers and exits 0.
OPENBLAS_CORETYPE is removed from PyTorch's environment (forcing a core type can only select a
slower kernel). The BLAS PyTorch loaded is printed: Debian's torch calls the system libblas.so.3,
which is the reference BLAS unless an optimized one is installed; --blas-dir DIR puts DIR first
on PyTorch's library path, e.g. the openblas-pthread directory of a `libopenblas0-pthread`
unpacked with `apt-get download` and `dpkg -x` (as numpy_gemm.py does), without changing the system.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TORCH_WORKER = r"""
import gzip, json, resource, sys, time
threads, epochs, data, flush = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
model_name, images = sys.argv[5], int(sys.argv[6])
cnn = model_name == "cnn"
import numpy as np
import torch
import torch.nn.functional as F
torch.set_num_threads(threads)
torch.set_flush_denormal(flush)

def idx(name):
    with gzip.open(f"{data}/{name}") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

shape = (-1, 1, 28, 28) if cnn else (-1, 784)
x_train = torch.from_numpy(idx("train-images-idx3-ubyte.gz").reshape(shape).astype(np.float32) / 255)
y_train = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
x_test = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").reshape(shape).astype(np.float32) / 255)
if images > 0:
    x_train, y_train = x_train[:images], y_train[:images]

torch.manual_seed(0)
nn = torch.nn
if cnn:
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
    model = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.25),
                          nn.Linear(256, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
else:
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
gen = torch.Generator().manual_seed(0)
epoch_s, epoch_cpu_s, eval_s = [], [], []
for e in range(epochs):
    order = torch.randperm(x_train.shape[0], generator=gen)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(0, x_train.shape[0], 128):
        batch = order[i:i + 128]
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        last_loss = loss.item()
    epoch_s.append(time.perf_counter() - start)
    epoch_cpu_s.append(time.process_time() - cpu_start)
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        for i in range(0, x_test.shape[0], 500 if cnn else x_test.shape[0]):
            model(x_test[i:i + 500] if cnn else x_test)
        eval_s.append(time.perf_counter() - start)
    model.train()
blas = sorted({line.split()[-1].rsplit("/", 1)[-1] for line in open("/proc/self/maps")
               if any(k in line.rsplit("/", 1)[-1] for k in ("blas", "mkl", "dnnl"))})
print(json.dumps({"impl": "torch", "threads": threads, "epoch_s": epoch_s, "epoch_cpu_s": epoch_cpu_s,
                  "eval_s": eval_s,
                  "loss": last_loss, "blas": blas, "torch": torch.__version__,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_available():
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True)
    return probe.returncode == 0, probe.stderr.strip().splitlines()[-1:] or [""]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(root, "build/apps/bench/bench_epoch"))
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--images", type=int, default=0, help="train on the first N images (0 = all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--blas-dir", help="directory with the libblas.so.3 PyTorch should load")
    args = parser.parse_args()
    if args.rounds < 1 or args.epochs < 2:
        parser.error("--rounds must be >= 1 and --epochs >= 2 (the first epoch is a warm-up)")
    threads = [int(t) for t in args.threads.split(",")]
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"compare_torch: {args.bench} not found: build it with "
                 "`cmake --build build --target bench_epoch`")

    has_torch, why = torch_available()
    if not has_torch:
        print(f"PyTorch is not available to {sys.executable} ({why[0]}): measuring minigrad only.")
    torch_env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if args.blas_dir:
        if not os.path.exists(os.path.join(args.blas_dir, "libblas.so.3")):
            sys.exit(f"compare_torch: no libblas.so.3 in --blas-dir {args.blas_dir}")
        torch_env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [args.blas_dir, torch_env.get("LD_LIBRARY_PATH")]))

    results = {}  # (impl, threads) -> {"epoch": [...], "eval": [...], "rss": [...], extra}
    for r in range(args.rounds):
        for t in threads:
            runs = [("minigrad", lambda: run([args.bench, "--model", args.model, "--images", str(args.images),
                                              "--threads", str(t), "--epochs", str(args.epochs), "--data", args.data]))]
            if has_torch:
                env = dict(torch_env, OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t),
                           OPENBLAS_NUM_THREADS=str(t))
                for impl, flush in (("torch", "0"), ("torch-ftz", "1")):
                    runs.append((impl, lambda flush=flush: run([sys.executable, "-c", TORCH_WORKER, str(t),
                                                                str(args.epochs), args.data, flush, args.model,
                                                                str(args.images)], env)))
            for impl, go in runs:
                out = go()
                entry = results.setdefault((impl, t), {"epoch": [], "cpu": [], "eval": [], "rss": [], "last": None})
                entry["epoch"] += out["epoch_s"][1:]
                entry["cpu"] += out["epoch_cpu_s"][1:]
                entry["eval"] += out["eval_s"][1:]
                entry["rss"].append(out["max_rss_mb"])
                entry["last"] = out
                print(f"round {r + 1}/{args.rounds} {impl:8} {t} thread(s): epoch "
                      f"{statistics.median(out['epoch_s'][1:]):.3f} s, loss {out['loss']:.3f}", flush=True)

    med = {k: {"epoch": statistics.median(v["epoch"]), "cpu": statistics.median(v["cpu"]),
               "eval": statistics.median(v["eval"]),
               "rss": max(v["rss"]), "last": v["last"]} for k, v in results.items()}
    load = open("/proc/loadavg").read().split()[:3]
    print(f"\nload average {' '.join(load)} (1, 5, 15 min) on {os.cpu_count()} CPUs"
          + (": the machine is busy, wall times are inflated; CPU time is the work done" if float(load[0]) > 1.5 else ""))
    mg_last = med[("minigrad", threads[-1])]["last"]
    print(f"machine: {mg_last['machine']}")
    print(f"model {args.model}: epoch = {mg_last['epoch_gflop']:.1f} GFLOP, eval = {mg_last['eval_gflop']:.2f} GFLOP")
    if has_torch:
        last = med[("torch", threads[0])]["last"]
        print(f"torch {last['torch']}, BLAS loaded: {', '.join(last['blas']) or 'none found'}")
    print(f"\n| {'':22} | " + " | ".join(f"{impl} {t}T".rjust(12) for impl, t in med) + " |")
    print("|" + "-" * 24 + "|" + "|".join("-" * 14 for _ in med) + "|")
    for label, key, fmt in (("epoch (s, median)", "epoch", "{:.3f}"), ("epoch CPU time (s)", "cpu", "{:.3f}"),
                            ("eval 10k (s, median)", "eval", "{:.4f}"),
                            ("peak RSS (MB)", "rss", "{:.0f}")):
        print(f"| {label:22} | " + " | ".join(fmt.format(v[key]).rjust(12) for v in med.values()) + " |")

    # The MLP's targets; the CNN's are its convolutions' share of the peak (bench_conv) and the ratio.
    mlp = args.model == "mlp"
    best = min(threads, key=lambda t: med[("minigrad", t)]["epoch"])
    mg = med[("minigrad", threads[-1])]
    print(f"\nminigrad {threads[-1]}T: {mg_last['epoch_gflop'] / mg['epoch']:.0f} GFLOP/s = "
          f"{mg_last['epoch_gflop'] / mg['epoch'] / mg_last['peak_gflops']:.0%} of the {threads[-1]}-core FMA peak "
          + (" (target >= 60%)" if mlp else ""))
    print(f"minigrad {threads[-1]}T eval: {mg_last['eval_gflop'] / mg['eval']:.0f} GFLOP/s = "
          f"{mg_last['eval_gflop'] / mg['eval'] / mg_last['peak_gflops']:.0%} of the FMA peak" + (" (target >= 70%)" if mlp else ""))
    epochs = mg_last["epoch_s"]
    print(f"minigrad {threads[-1]}T epochs in its last run: {', '.join(f'{e:.3f}' for e in epochs)} s "
          f"(last / second: {epochs[-1] / epochs[1]:.2f})")
    if len(threads) > 1:
        print(f"thread scaling {threads[-1]}T vs {threads[0]}T: "
              f"{med[('minigrad', threads[0])]['epoch'] / mg['epoch']:.2f}x" + (" (target >= 1.8x)" if mlp else ""))
    if has_torch:
        for impl in ("torch", "torch-ftz"):
            torch_best = min((med[(impl, t)] for t in threads), key=lambda v: v["epoch"])
            torch_eval = min(med[(impl, t)]["eval"] for t in threads)
            print(f"epoch minigrad {threads[-1]}T / {impl} best ({torch_best['last']['threads']}T): "
                  f"{mg['epoch'] / torch_best['epoch']:.2f}x (target <= {0.5 if mlp else 0.8}x); "
                  f"eval: {mg['eval'] / torch_eval:.2f}x")
        torch_rss = min(med[("torch", t)]["rss"] for t in threads)
        print(f"peak RSS minigrad / torch: {mg['rss']:.0f} / {torch_rss:.0f} MB")
    print(f"(minigrad's fastest setting: {best}T)")


if __name__ == "__main__":
    main()
