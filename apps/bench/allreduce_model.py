#!/usr/bin/env python3
"""Alpha-beta model of data-parallel training of fashion_mlp's default MLP and its CNN recipe.

A step on N machines computes B/N images, then sums the gradients over the machines with
DataParallel's ring all-reduce: 2(N-1)/N * S / bandwidth + 2(N-1) * alpha for a bucket of S bytes.
Efficiency = T(1) / (N * T(N)), with no overlap of communication and backward: a lower bound, as
DataParallel sends a bucket while backward still computes the layers below it.

Compute times per image are inputs: the defaults are the 1-thread epoch of docs/performance.md
(AVX2 machine: 2.277 s for 60,000 images) and, for the CNN, its FLOPs at that epoch's rate.
Measure your own (`fashion_mlp train` prints seconds per epoch) and pass --mlp-us / --cnn-us.
"""
import argparse
import math


def mlp_layers():
    """784-512-256-10: (parameters, forward multiply-adds per image) per layer."""
    sizes = [784, 512, 256, 10]
    return [(i * o + o, i * o) for i, o in zip(sizes, sizes[1:])]


def cnn_layers():
    """apps/fashion_mlp/recipes/cnn.toml: 4 conv 3x3 (+ batch norm), 2 max pools, 3136-256-10."""
    layers = []
    for cin, cout, hw in [(1, 32, 28), (32, 32, 28), (32, 64, 14), (64, 64, 14)]:
        layers.append((cin * cout * 9 + cout + 2 * cout, hw * hw * cout * cin * 9))  # conv + bn
    for i, o in [(64 * 7 * 7, 256), (256, 10)]:
        layers.append((i * o + o, i * o))
    return layers


def buckets(params, bucket_bytes):
    """Gradient buckets as DataParallel fills them (reverse order, float32)."""
    sizes, current = [], 0
    for p in reversed(params):
        if current and (current + p) * 4 > bucket_bytes:
            sizes.append(current)
            current = 0
        current += p
    return sizes + [current]


def comm_seconds(n, bucket_params, gbps, alpha):
    """Ring all-reduce of every bucket, one after another."""
    bandwidth = gbps * 1e9 / 8
    return sum(2 * (n - 1) / n * 4 * p / bandwidth + 2 * (n - 1) * alpha for p in bucket_params)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlp-us", type=float, default=2.277 / 60000 * 1e6, help="MLP microseconds per image, 1 machine")
    parser.add_argument("--gflops", type=float, default=144.4 / 2.277, help="GFLOP/s the CNN runs at (default: the MLP epoch's)")
    parser.add_argument("--cnn-us", type=float, default=None, help="CNN microseconds per image (default: from --gflops)")
    parser.add_argument("--fixed-ms", type=float, default=0.2, help="per-step time that does not shrink with the batch (optimizer)")
    parser.add_argument("--alpha-us", type=float, default=25.0, help="latency of one message (MPI over TCP)")
    parser.add_argument("--bucket-bytes", type=int, default=1 << 20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--machines", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--links", type=float, nargs="+", default=[10, 25, 100], help="Gb/s")
    args = parser.parse_args()

    models = {"MLP 784-512-256-10": mlp_layers(), "CNN (recipe cnn)": cnn_layers()}
    alpha = args.alpha_us * 1e-6
    fixed = args.fixed_ms * 1e-3
    for name, layers in models.items():
        params = [p for p, _ in layers]
        macs = sum(m for _, m in layers)
        us = args.mlp_us if name.startswith("MLP") else args.cnn_us or 6 * macs / (args.gflops * 1e3)
        per_image = us * 1e-6
        bucket_params = buckets(params, args.bucket_bytes)
        print(f"\n{name}: {sum(params):,} parameters ({4 * sum(params) / 1e6:.2f} MB of gradients in "
              f"{len(bucket_params)} buckets), {6 * macs / 1e6:.1f} MFLOP and {us:.0f} us per image; "
              f"global batch {args.batch}")
        one = args.batch * per_image + fixed
        print(f"  1 machine: {one * 1e3:.2f} ms per step")
        print(f"  {'N':>3} {'link':>8} {'comm ms':>8} {'step ms':>8} {'efficiency':>10} {'batch for 80%':>14}")
        for n in args.machines:
            for gbps in args.links:
                comm = comm_seconds(n, bucket_params, gbps, alpha)
                step = args.batch / n * per_image + fixed + comm
                efficiency = one / (n * step)
                # B t + f >= 0.8 N (B t / N + f + C)  <=>  B >= (0.8 N (f + C) - f) / (0.2 t)
                need = max(1, math.ceil((0.8 * n * (fixed + comm) - fixed) / (0.2 * per_image)))
                print(f"  {n:>3} {gbps:>5.0f} Gb/s {comm * 1e3:>6.2f} {step * 1e3:>8.2f} {100 * efficiency:>9.0f}% {need:>14,}")


if __name__ == "__main__":
    main()
