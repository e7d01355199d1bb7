"""Builders of small IR graphs for tests."""

from __future__ import annotations

import nir
import numpy as np

from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QDense


def qgraph(
    sizes: list[int],
    rng: np.random.Generator,
    *,
    graded: bool = False,
    max_value: int = 1,
    weight_range: int = 128,
    exps: list[int] | None = None,
    du: list[int] | None = None,
    dv: list[int] | None = None,
    vth: list[int] | None = None,
    bias: list[tuple[np.ndarray, np.ndarray]] | None = None,
    resets: list[str] | None = None,
) -> Graph:
    """A feed-forward quantized graph: Input(sizes[0]) -> [QDense -> QLIF] * (len(sizes) - 1) -> Output."""
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([sizes[0]])})}
    edges = []
    prev = "input"
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        w = rng.integers(-weight_range, weight_range, size=(sizes[i + 1], sizes[i]))
        w = np.clip(w, -128, 127)
        nodes[f"dense{i}"] = QDense(weight=w, weight_exp=(exps or [0] * n_layers)[i], graded=graded and i == 0)
        bm, be = (bias[i] if bias else (np.zeros(sizes[i + 1], np.int64), np.zeros(sizes[i + 1], np.int64)))
        nodes[f"lif{i}"] = QLIF(
            du=(du or [4095] * n_layers)[i], dv=(dv or [0] * n_layers)[i], vth=(vth or [100] * n_layers)[i],
            bias_mant=bm, bias_exp=be, reset=(resets or ["zero"] * n_layers)[i],
        )
        edges += [(prev, f"dense{i}"), (f"dense{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((prev, "output"))
    meta = {"input": {"kind": "graded" if graded else "spikes", "scale": 1.0, "max_value": max_value}}
    return Graph(nodes=nodes, edges=edges, metadata=meta)


def deployable(graph: Graph, target: str = "loihi2") -> Graph:
    """``graph`` as a compile leaves it for the Lava backend: every neuron layer's target primitive recorded (the
    lower-primitives pass; hand-built graphs here are already quantized)."""
    from snncc.ir import keys
    from snncc.passes import LowerPrimitives, PassContext, PassManager
    from snncc.target import load_target

    g = graph.copy()
    g.metadata[keys.QUANTIZED] = True
    return PassManager([LowerPrimitives()]).run(g, PassContext(target=load_target(target)))


def lava_runner(graph: Graph, target: str = "loihi2") -> object:
    """The Lava runner of a hand-built quantized graph (its primitives recorded first, see :func:`deployable`)."""
    from snncc.backends.lava import LavaRunner

    return LavaRunner(deployable(graph, target))


def random_inputs(rng: np.random.Generator, batch: int, timesteps: int, n: int, graded: bool = False,
                  max_value: int = 1, rate: float = 0.3) -> np.ndarray:
    if graded:
        return rng.integers(0, max_value + 1, size=(batch, timesteps, n))
    return (rng.random((batch, timesteps, n)) < rate).astype(np.int64)
