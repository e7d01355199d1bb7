"""The fuzz driver: cases in worker processes with a timeout each, so a hang or a hard crash is an outcome too.

``fuzz(seeds, targets, ...)`` compiles every (seed, target) in a pool of worker processes (a hang past the timeout
kills the worker and its children and is recorded as ``hung``; a worker that dies is a ``crashed`` case), then
verifies a seeded sample of the compiled bundles the same way. Workers are started with ``spawn`` (no state forked
from the parent; Lava starts processes of its own, so workers are not daemons) and put in a process group of
their own, which is what a timeout kills. Which function runs a case is a ``"module:function"`` name, so a test can
hand the driver a fake compile.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from tests.fuzz.cases import COMPILED, CRASHED, FAILURES, HUNG, resolve

COMPILE = "tests.fuzz.cases:compile_case"
VERIFY = "tests.fuzz.cases:verify_case"
TARGETS = ("loihi2", "loihi")


def _worker(conn: Connection) -> None:
    """Run jobs until told to stop; each job names the function that runs it."""
    os.setpgrp()  # the timeout kills this group: the worker and any process it started (Lava's)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # spawn fixed this process's start method; Lava sets its own ('fork') when imported, which would then fail
    mp.set_start_method(None, force=True)
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(resolve(job["runner"])(job))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child,), daemon=False)
        unset = mp.get_start_method(allow_none=True) is None
        self.process.start()
        if unset:  # spawning fixed this process's default start method; leave it unset, for Lava to set (fork)
            mp.set_start_method(None, force=True)
        child.close()
        self.job: dict[str, Any] | None = None
        self.started = 0.0

    def submit(self, job: dict[str, Any]) -> None:
        self.job, self.started = job, time.monotonic()
        self.conn.send(job)

    def kill(self) -> None:
        """End this worker's process group (it made its own at start), then the worker itself."""
        pid = self.process.pid
        if pid is not None and self.process.is_alive():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.join(10)
        except (BrokenPipeError, OSError):
            pass
        if self.process.is_alive():
            self.kill()


class WorkerPool:
    """``workers`` worker processes that run jobs (dicts naming their ``runner``), kept across calls of :meth:`run`;
    a worker that hangs or dies is replaced."""

    def __init__(self, workers: int = 2) -> None:
        self.ctx = mp.get_context("spawn")
        self.workers = [_Worker(self.ctx) for _ in range(max(1, workers))]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            if w.job is not None:  # interrupted mid-job
                w.kill()
            else:
                w.stop()

    def run(self, jobs: Iterable[dict[str, Any]], timeout: float = 60.0,
            on_result: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Run ``jobs``; returns one ``{"job": job, **result}`` per job, in job order. A job still running after
        ``job.get('timeout', timeout)`` seconds is ``hung``; one whose worker dies is ``crashed``."""
        pending = list(enumerate(jobs))[::-1]
        results: dict[int, dict[str, Any]] = {}
        pool = self.workers

        def done(w: _Worker, result: dict[str, Any]) -> None:
            job = {k: v for k, v in w.job.items() if k != "index"}
            results[w.job["index"]] = {"job": job, **result}
            w.job = None
            if on_result is not None:
                on_result(job, result)

        while pending or any(w.job is not None for w in pool):
            for w in pool:
                if w.job is None and pending:
                    index, job = pending.pop()
                    w.submit({**job, "index": index})
            busy = [w for w in pool if w.job is not None]
            limit = min(w.started + w.job.get("timeout", timeout) for w in busy)
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                         max(0.0, limit - time.monotonic()))
            for i, w in enumerate(pool):
                if w.job is None:
                    continue
                if w.conn in ready:
                    try:
                        done(w, w.conn.recv())
                        continue
                    except (EOFError, OSError):
                        pass  # the worker died while sending: below
                if w.conn in ready or w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(5)
                    code = w.process.exitcode
                    w.kill()
                    done(w, {"status": CRASHED, "reason": None, "error_class": "WorkerDied",
                             "message": f"the worker process died (exit code {code})"})
                    pool[i] = _Worker(self.ctx)
                elif time.monotonic() - w.started >= w.job.get("timeout", timeout):
                    seconds = w.job.get("timeout", timeout)
                    w.kill()
                    done(w, {"status": HUNG, "reason": None, "message": f"no result after {seconds:g} s",
                             "seconds": seconds})
                    pool[i] = _Worker(self.ctx)
        return [results[i] for i in sorted(results)]


def run_jobs(jobs: Iterable[dict[str, Any]], workers: int = 2, timeout: float = 60.0,
             on_result: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """:meth:`WorkerPool.run` in a pool of its own."""
    jobs = list(jobs)
    with WorkerPool(min(workers, max(1, len(jobs)))) as pool:
        return pool.run(jobs, timeout, on_result)


def sample(compiled: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` of the ``compiled`` cases, drawn with ``seed`` in turn from each (target, netx written) group, so that
    the sample covers every target and the netx comparison whenever there are such bundles."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for c in compiled:
        groups.setdefault((c["job"]["target"], bool(c.get("netx"))), []).append(c)
    queues = [[g[i] for i in rng.permutation(len(g))] for _, g in sorted(groups.items())]
    chosen: list[dict[str, Any]] = []
    while len(chosen) < n and any(queues):
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop(0))
    return chosen


@dataclass
class FuzzRun:
    """Everything a fuzz run found: one result per (seed, target) case and per verified bundle."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Every failing case (crash, hang, undocumented refusal, miscompile) and failed verification."""
        bad = [c for c in self.cases if c["status"] in FAILURES]
        return bad + [v for v in self.verified if v["status"] != "bit-exact"]

    @property
    def passed(self) -> bool:
        return not self.failures


def fuzz(seeds: Iterable[int], targets: Iterable[str] = TARGETS, verify: int = 0, workers: int = 2,
         timeout: float = 60.0, verify_timeout: float = 300.0, workdir: str | Path | None = None,
         progress: Callable[[dict[str, Any], dict[str, Any]], None] | None = None, compile_runner: str = COMPILE,
         verify_runner: str = VERIFY, sample_seed: int = 0, keep: bool = False,
         compile_fn: str | None = None) -> FuzzRun:
    """Compile every seed's model for every target, then verify ``verify`` bundles drawn (with ``sample_seed``)
    from the compiled ones. Bundles go to ``workdir`` (a temporary folder unless given; removed unless ``keep``).
    ``compile_fn`` names a compile function to use instead of snncc's (see :func:`tests.fuzz.cases.compile_case`)."""
    start = time.perf_counter()
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="snncc-fuzz-"))
    try:
        jobs = [{"runner": compile_runner, "seed": int(s), "target": t, "out": str(root / t / f"seed{s}"),
                 "timeout": timeout, "compile": compile_fn} for s in seeds for t in targets]
        with WorkerPool(min(workers, max(1, len(jobs)))) as pool:
            run = FuzzRun(cases=pool.run(jobs, timeout, progress))
            chosen = sample([c for c in run.cases if c["status"] == COMPILED], verify, sample_seed)
            keep_paths = {c["bundle"] for c in chosen}
            for c in run.cases:  # bundles not drawn are not needed again
                if c.get("bundle") and c["bundle"] not in keep_paths and not keep:
                    shutil.rmtree(c["bundle"], ignore_errors=True)
            vjobs = [{"runner": verify_runner, "seed": c["job"]["seed"], "target": c["job"]["target"],
                      "bundle": c["bundle"], "netx": bool(c.get("netx")), "timeout": verify_timeout} for c in chosen]
            run.verified = pool.run(vjobs, verify_timeout, progress)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    run.seconds = time.perf_counter() - start
    return run
