"""Wall-clock time of the reference simulator vs the Lava backend on one ~1000-neuron network (100 steps).

Also times reading the output layer's spikes back from Lava: stock ``sink.RingBuffer`` + ``data.get()`` (one scalar
per runtime message) against snncc's ``FileSink`` (one ``np.save`` at the last step).

Run: ``python benchmarks/bench_reference_vs_lava.py [--steps 100] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import nir
import numpy as np

from snncc.backends.lava import FileSink, LavaRunner
from snncc.backends.lava.execution import run_and_stop
from snncc.backends.reference import ReferenceSimulator
from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QDense, keys
from snncc.passes import LowerPrimitives, PassContext
from snncc.target import load_target

SIZES = [200, 400, 400, 200]


def network(rng: np.random.Generator) -> Graph:
    """input 200 -> 400 -> 400 -> 200 CUBA LIF, random 8-bit weights, mixed resets, on loihi2's primitives."""
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([SIZES[0]])})}
    edges, prev = [], "input"
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        nodes[f"dense{i}"] = QDense(weight=rng.integers(-100, 128, size=(n_out, n_in)), weight_exp=0)
        nodes[f"lif{i}"] = QLIF(du=1024, dv=256, vth=6000, bias_mant=rng.integers(-200, 200, n_out),
                                bias_exp=np.full(n_out, 4), reset="subtract" if i % 2 else "zero")
        edges += [(prev, f"dense{i}"), (f"dense{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([SIZES[-1]])})
    edges.append((prev, "output"))
    graph = Graph(nodes=nodes, edges=edges, metadata={keys.INPUT: {"kind": "spikes"}, keys.QUANTIZED: True})
    return LowerPrimitives().run(graph, PassContext(target=load_target("loihi2")))  # each layer's Lava process


def readback(steps: int, n: int, use_file: bool) -> tuple[float, float]:
    """(run, read) seconds for a source -> sink of ``n`` channels over ``steps`` steps."""
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    data = (np.random.default_rng(0).random((n, steps)) < 0.3).astype(np.int32)
    src = Source(data=data)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.npy")
        sink = FileSink(shape=(n,), num_steps=steps, path=path, dtype="int8") if use_file else Sink(
            shape=(n,), buffer=steps)
        src.s_out.connect(sink.a_in)
        t0 = time.perf_counter()
        if use_file:
            run_and_stop(src, steps)
            t1 = time.perf_counter()
            got = np.load(path).T
        else:
            from lava.magma.core.run_conditions import RunSteps
            from lava.magma.core.run_configs import Loihi2SimCfg

            try:
                src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
                t1 = time.perf_counter()
                got = sink.data.get()
            finally:
                src.stop()
        t2 = time.perf_counter()
    assert np.array_equal(got, data)
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    graph = network(rng)
    x = (rng.random((1, args.steps, SIZES[0])) < 0.2).astype(np.int64)

    t0 = time.perf_counter()
    ref = ReferenceSimulator(graph).run(x)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    lava = LavaRunner(graph).run(x)
    t_lava = time.perf_counter() - t0

    for name, trace in ref.layers.items():
        assert np.array_equal(trace.spikes, lava.layers[name].spikes), f"{name}: reference and Lava disagree"
    spikes = {n: int(t.spikes.sum()) for n, t in ref.layers.items()}
    print(f"network {'-'.join(map(str, SIZES))}, {args.steps} steps, {sum(SIZES[1:])} LIF neurons, spikes {spikes}")
    print(f"reference simulator : {t_ref:8.3f} s")
    print(f"LavaRunner (total)  : {t_lava:8.3f} s   (build + compile + spawn + run + read + stop)")
    print(f"ratio Lava/reference: {t_lava / t_ref:8.1f} x   spikes agree bit for bit in every layer")

    n = SIZES[-1]
    for use_file in (False, True):
        run_s, read_s = readback(args.steps, n, use_file)
        label = "FileSink + np.load   " if use_file else "sink.RingBuffer.get()"
        print(f"read back {n}x{args.steps} values, {label}: run {run_s:6.3f} s, read {read_s:7.4f} s "
              f"({read_s / (n * args.steps) * 1e6:6.2f} us/value)")


if __name__ == "__main__":
    main()
