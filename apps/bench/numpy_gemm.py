#!/usr/bin/python3
"""GFLOP/s of numpy and torch (OpenBLAS / MKL-DNN) on the shapes bench_gemm times.

Run with the system python: /usr/bin/python3 apps/bench/numpy_gemm.py [--reps N]
Each (library, thread count) is timed in its own subprocess, because BLAS thread pools read
their size from the environment at import. OPENBLAS_CORETYPE is removed: forcing a core type
there can select a slower kernel than OpenBLAS's own detection.

Debian's numpy and torch call whatever libblas.so.3 the system provides; with only the
reference BLAS installed they are not a meaningful baseline. --blas-dir points the subprocesses
at another libblas.so.3 (e.g. an OpenBLAS unpacked with `apt-get download libopenblas0-pthread`
and `dpkg -x`) without changing the system. The table names the BLAS each run loaded.
"""
import argparse
import json
import os
import subprocess
import sys

# (M, K, N, trans_a, trans_b): A is M x K (stored K x M if trans_a), B is K x N (stored N x K
# if trans_b), the same list as bench_gemm.cpp (nn.Linear's calls: X W^T, G W, G^T X).
SHAPES = [
    (128, 784, 512, 0, 1),
    (128, 512, 256, 0, 1),
    (128, 256, 10, 0, 1),
    (128, 10, 256, 0, 0),
    (128, 256, 512, 0, 0),
    (128, 512, 784, 0, 0),
    (10, 128, 256, 1, 0),
    (256, 128, 512, 1, 0),
    (512, 128, 784, 1, 0),
    (10000, 784, 512, 0, 1),
    (10000, 512, 256, 0, 1),
    (10000, 256, 10, 0, 1),
    (1024, 1024, 1024, 0, 0),
]

WORKER = r"""
import json, sys, time
lib, reps = sys.argv[1], int(sys.argv[2])
shapes = json.loads(sys.argv[3])
import numpy as np
if lib == "torch":
    import torch
out = {"gflops": [], "blas": sorted({line.split()[-1] for line in open("/proc/self/maps")
                                     if "blas" in line.rsplit("/", 1)[-1]})}
for m, k, n, ta, tb in shapes:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    if lib == "torch":
        a, b = torch.from_numpy(a), torch.from_numpy(b)
        c = torch.empty(m, n)
        opa, opb = (a.t() if ta else a), (b.t() if tb else b)
        run = lambda: torch.mm(opa, opb, out=c)
    else:
        c = np.empty((m, n), dtype=np.float32)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        run = lambda: np.matmul(opa, opb, out=c)
    flops = 2.0 * m * n * k
    # Enough calls per sample for ~20 ms, median of `reps` samples.
    run()
    t0 = time.perf_counter(); run(); one = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(0.02 / one))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            run()
        samples.append((time.perf_counter() - t0) / calls)
    samples.sort()
    out["gflops"].append(flops / samples[len(samples) // 2] / 1e9)
print(json.dumps(out))
"""

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def measure(lib, threads, reps, blas_dir):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if blas_dir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [blas_dir, env.get("LD_LIBRARY_PATH")]))
    for var in THREAD_VARS:
        env[var] = str(threads)
    proc = subprocess.run([sys.executable, "-c", WORKER, lib, str(reps), json.dumps(SHAPES)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{lib} with {threads} thread(s) failed:\n{proc.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="samples per shape (median taken)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--blas-dir", help="directory with the libblas.so.3 to load instead")
    args = parser.parse_args()

    libs = []
    for lib in ("numpy", "torch"):
        try:
            __import__(lib)
            libs.append(lib)
        except ImportError:
            print(f"{lib} is not installed for {sys.executable}; skipping it")
    if not libs:
        print("neither numpy nor torch is available: nothing to compare against")
        return 0

    columns = [(lib, t) for lib in libs for t in args.threads]
    results = {col: measure(*col, args.reps, args.blas_dir) for col in columns}
    for (lib, t), r in results.items():
        if r:
            print(f"{lib} {t}t BLAS: {', '.join(r['blas']) or 'none found'}")
    header = f"{'M x K x N':>16} {'op':>6} " + " ".join(f"{f'{lib} {t}t':>11}" for lib, t in columns)
    print("GFLOP/s, median of", args.reps, "samples")
    print(header)
    for i, (m, k, n, ta, tb) in enumerate(SHAPES):
        op = ("A^T" if ta else "A") + ("B^T" if tb else "B")
        cells = []
        for col in columns:
            r = results[col]
            cells.append(f"{r['gflops'][i]:11.1f}" if r else f"{'-':>11}")
        print(f"{f'{m}x{k}x{n}':>16} {op:>6} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
