#!/usr/bin/python3
"""PyTorch's time for bench_train's BM_bmm_small and BM_bmm_small_backward: matmul of
(64, 8, 64) x (64, 64, 8) float32, forward alone and forward + backward, at each thread count.

  /usr/bin/python3 apps/bench/bmm_torch.py [--threads 1,2] [--repeats 5]

Prints, per case and thread count, the median time per call (each repeat times a loop of about
0.2 s) and GFLOP/s counted as bench_train counts them, to set beside
  bench_train --benchmark_filter=BM_bmm_small --benchmark_repetitions=5
"""
import argparse
import statistics
import time

import torch

FLOPS = 2.0 * 64 * 8 * 64 * 8


def seconds_per_call(fn, repeats):
    fn()
    calls = 1
    while True:  # calls per repeat: about 0.2 s
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > 0.2:
            break
        calls *= 2
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    a = torch.randn(64, 8, 64, requires_grad=True)
    b = torch.randn(64, 64, 8, requires_grad=True)

    def forward():
        with torch.no_grad():
            torch.matmul(a, b)

    def forward_backward():
        c = torch.matmul(a, b)
        c.backward(torch.ones_like(c))
        a.grad = None
        b.grad = None

    print(f"torch {torch.__version__}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for name, fn, flops in (("BM_bmm_small", forward, FLOPS),
                                ("BM_bmm_small_backward", forward_backward, 3 * FLOPS)):
            s = seconds_per_call(fn, args.repeats)
            print(f"{name}/threads:{threads}  {s * 1e6:9.2f} us  {flops / s / 1e9:7.2f} GFLOP/s")


if __name__ == "__main__":
    main()
