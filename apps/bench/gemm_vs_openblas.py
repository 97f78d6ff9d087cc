#!/usr/bin/python3
"""minigrad's GEMM against OpenBLAS's cblas_sgemm on bench_gemm's shapes, ratio table.

  python3 apps/bench/gemm_vs_openblas.py --blas-dir DIR [--rounds 3] [--bench build/apps/bench/bench_gemm]
                                          [--before OTHER_BENCH_GEMM] [--isa avx2]

DIR holds a libopenblas.so.0 (e.g. the openblas-pthread directory of a libopenblas0-pthread
unpacked with `apt-get download` + `dpkg -x`). OpenBLAS is an optional peer: without it the
script says so and times minigrad alone. Each round runs two bench_gemm processes, one per
library, in alternating order (OpenBLAS's idle threads spin for a while after a call, so the two
never share a process); the table shows medians over rounds, and the ratio of those medians.
Otherwise OPENBLAS_CORETYPE is removed: forcing a core type can pick a slower kernel than
detection does.
--before adds a column timed with another bench_gemm binary (e.g. one linked against an older
minigrad_kernels), in the same alternation, for before/after tables.
--isa avx2 compares the portable paths, as on a CPU without AVX-512: minigrad with
MINIGRAD_GEMM_ISA=avx2, OpenBLAS with OPENBLAS_CORETYPE=Haswell (its AVX2 kernels); bench_gemm
then measures the AVX2 FMA peak (it honours MINIGRAD_GEMM_ISA), in both processes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(bench, lib, blas_path, min_time, isa):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("MINIGRAD_GEMM_ISA", None)
    if isa == "avx2":
        env["MINIGRAD_GEMM_ISA"] = "avx2"  # our kernels, and the peak bench_gemm measures
        if lib == "openblas":
            env["OPENBLAS_CORETYPE"] = "Haswell"
    cmd = [bench, f"--benchmark_filter=^{'openblas' if lib == 'openblas' else 'gemm'}/",
           "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    if lib == "openblas":
        cmd.append(f"--openblas={blas_path}")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {b["name"].split("/", 1)[1].removesuffix("/real_time"): (b["GFLOP/s"], b["peak"])
            for b in json.loads(out)["benchmarks"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blas-dir", help="directory holding libopenblas.so.0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per benchmark")
    parser.add_argument("--bench", default=os.path.join(HERE, "../../build/apps/bench/bench_gemm"))
    parser.add_argument("--before", help="another bench_gemm to time as the 'before' column")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native",
                        help="avx2: both libraries on their AVX2 kernels")
    args = parser.parse_args()

    blas_path = os.path.join(args.blas_dir, "libopenblas.so.0") if args.blas_dir else None
    libs = ["gemm"] + (["before"] if args.before else [])
    if blas_path and os.path.exists(blas_path):
        libs.append("openblas")
    else:
        print(f"no OpenBLAS ({blas_path or 'no --blas-dir'}): timing minigrad alone")

    samples = {lib: [] for lib in libs}
    for r in range(args.rounds):
        for lib in (libs if r % 2 == 0 else libs[::-1]):
            bench = args.before if lib == "before" else args.bench
            samples[lib].append(run(bench, lib, blas_path, args.min_time, args.isa))

    def median(lib, name, field):
        return statistics.median(s[name][field] for s in samples[lib])

    print(f"GFLOP/s, medians of {args.rounds} alternating rounds; peak = share of threads x "
          f"measured 1-core {'AVX2 ' if args.isa == 'avx2' else ''}FMA peak")
    head = f"{'shape MxKxN':>16} {'op':>3} {'thr':>3} {'ours':>7} {'peak':>5}"
    if "before" in libs:
        head += f" {'before':>7}"
    if "openblas" in libs:
        head += f" {'OpenBLAS':>8} {'peak':>5} {'ratio':>6}"
    print(head)
    for name in samples["gemm"][0]:
        shape, op, thr = name.split("/")
        line = (f"{shape:>16} {op:>3} {thr.split(':')[1]:>3} {median('gemm', name, 0):7.1f} "
                f"{100 * median('gemm', name, 1):4.0f}%")
        if "before" in libs:  # an older binary may lack newer shapes
            line += (f" {median('before', name, 0):7.1f}" if name in samples["before"][0]
                     else f" {'-':>7}")
        if "openblas" in libs:
            theirs = median("openblas", name, 0)
            line += (f" {theirs:8.1f} {100 * median('openblas', name, 1):4.0f}%"
                     f" {median('gemm', name, 0) / theirs:6.2f}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
