"""Data-set shards on a Dask distributed cluster: a local one by default, or the one at a scheduler address.

Dask was chosen over Ray by measurement on this 2-core machine (``benchmarks/bench_engines.py``, docs/distributed.md):
a local cluster starts in about 1 s (Ray 2-3 s), which dominates runs of a few seconds, while its per-task cost
(about 2 ms against Ray's 0.6 ms) is lost in shards of 100 ms and more; it is pure Python and 22 MB installed
(Ray: a 186 MB binary wheel tied to each Python release). Both gave results identical to the local run.

The bundle is loaded (and checked) here and sent to every worker once (``scatter``); workers need no access to
its folder. Each shard's payloads travel with its task. Workers hold one thread each, and the simulator in a
worker runs on one thread (``SNNCC_THREADS=1``): the cluster's processes are the parallelism.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .bundle import Bundle
from .dataset import Shard, run_shard
from .errors import OptionError


def _one_thread() -> None:
    """Worker set-up: the simulator and BLAS on one thread (the cluster's processes are the parallelism)."""
    os.environ["SNNCC_THREADS"] = "1"


def dask_engine(address: str | None = None, workers: int = 2):
    """An engine for :func:`snncc.dataset.run_dataset`: shards on a local cluster of ``workers`` processes, or on
    the cluster whose scheduler is at ``address``; yields shards as they finish."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - a runtime dependency
        raise OptionError(f"distributed runs need dask.distributed ({e})") from None

    def engine(bundle: Bundle, x: np.ndarray, ranges: list[tuple[int, int]], backend: str) -> Iterator[Shard]:
        cluster: Any = None
        if address is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        try:
            client = Client(address or cluster, timeout="30s")
        except (OSError, TimeoutError) as e:
            if cluster is not None:
                cluster.close()
            raise OptionError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        try:
            client.run(_one_thread)
            shared = client.scatter(bundle, broadcast=True)
            futures = [client.submit(run_shard, shared, np.ascontiguousarray(x[start:stop]), start, backend,
                                     pure=False) for start, stop in ranges]
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    engine.describe = (f"Dask cluster at {address}" if address  # type: ignore[attr-defined]
                       else f"local Dask cluster of {workers} workers")
    return engine
