"""Dask distributed against Ray for snncc's data-set runs, side by side on one machine: the time a local cluster
takes to start, the cost of one empty task, and the whole digits set (1797 images, the shipped model) in shards,
each checked equal to the same run in this process.

This is the measurement behind the choice of Dask (docs/distributed.md). Dask is a dependency; Ray is not: install
it to compare (``pip install ray==2.40.0`` into a separate environment that sees snncc, it pulls ~200 MB), else its
rows say it is missing.

Run: ``python benchmarks/bench_engines.py [--workers 2] [--shard 225]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SNNCC_THREADS", "1")  # workers (and this process, for the reference row) on one thread each


def _dask(bundle, x, ranges, workers):
    from dask.distributed import Client, LocalCluster

    from snncc.dataset import run_shard

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    start = time.perf_counter() - t0
    t0 = time.perf_counter()
    client.gather(client.map(abs, range(-1000, 0)))
    task = (time.perf_counter() - t0) / 1000
    shared = client.scatter(bundle, broadcast=True)
    client.gather([client.submit(run_shard, shared, x[:8], 0, pure=False) for _ in range(workers)])  # warm-up
    t0 = time.perf_counter()
    parts = client.gather([client.submit(run_shard, shared, x[a:b], a, pure=False) for a, b in ranges])
    run = time.perf_counter() - t0
    client.close()
    cluster.close()
    return start, task, run, parts


def _ray(bundle, x, ranges, workers):
    import ray

    from snncc.dataset import run_shard

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter() - t0
    shard, empty = ray.remote(run_shard), ray.remote(lambda i: abs(i))
    t0 = time.perf_counter()
    ray.get([empty.remote(-i) for i in range(1000)])
    task = (time.perf_counter() - t0) / 1000
    shared = ray.put(bundle)
    ray.get([shard.remote(shared, x[:8], 0) for _ in range(workers)])
    t0 = time.perf_counter()
    parts = ray.get([shard.remote(shared, x[a:b], a) for a, b in ranges])
    run = time.perf_counter() - t0
    ray.shutdown()
    return start, task, run, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard", type=int, default=225)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sklearn.datasets import load_digits

    from examples.digits.data import PIXEL_LEVELS
    from snncc.compiler import Options, compile_model
    from snncc.dataset import merge, run_shard, shards

    bundle = compile_model(str(ROOT / "examples/digits/model.pt"), "loihi2", options=Options(samples=8))
    pixels = np.rint(load_digits().data / PIXEL_LEVELS * PIXEL_LEVELS).astype(np.int64)
    x = np.ascontiguousarray(np.broadcast_to(pixels[:, None, :], (len(pixels), bundle.timesteps, pixels.shape[1])))
    ranges = shards(len(x), args.shard)
    run_shard(bundle, x[:8], 0)  # this process's kernels are ready too
    t0 = time.perf_counter()
    local = merge([run_shard(bundle, x[a:b], a) for a, b in ranges])
    here = time.perf_counter() - t0
    print(f"digits set: {len(x)} samples in {len(ranges)} shards; {args.workers} workers of one thread each")
    print(f"{'engine':<10}{'cluster start':>15}{'empty task':>13}{'digits set':>13}{'identical':>11}")
    print(f"{'here':<10}{'-':>15}{'-':>13}{here:>12.2f}s{'-':>11}")
    for name, fn in (("dask", _dask), ("ray", _ray)):
        try:
            start, task, run, parts = fn(bundle, x, ranges, args.workers)
        except ImportError as e:
            print(f"{name:<10}not installed ({e})")
            continue
        whole = merge(parts)
        same = np.array_equal(whole.outputs, local.outputs) and all(
            whole.counts[k].to_dict() == c.to_dict() for k, c in local.counts.items())
        print(f"{name:<10}{start:>14.2f}s{1e3 * task:>11.2f}ms{run:>12.2f}s{'yes' if same else 'NO':>11}")


if __name__ == "__main__":
    main()
