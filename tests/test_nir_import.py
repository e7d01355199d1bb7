"""NIR's shapes and structure into the IR: nested subgraphs flattened, (C, H, W) maps and scalar parameters, shapes
left to inference, Scale; each checked by the float simulation against a direct numpy computation."""

from __future__ import annotations

import nir
import numpy as np
import torch

import snncc
from snncc.frontend import SemanticsRequest, import_model
from snncc.ir import Graph

NIR_SEMANTICS = SemanticsRequest(library="nir", dt=1e-3)


def _if(n: int | None, thr: float = 1.0) -> nir.IF:
    """An IF neuron with dt r = 1; one value for the whole layer when ``n`` is None (h5py cannot write true scalars
    compressed; one-element arrays are what such files hold, NIR#176)."""
    shape = (1,) if n is None else (n,)
    return nir.IF(r=np.full(shape, 1e3), v_threshold=np.full(shape, thr))


def _float_spikes(source, x: np.ndarray) -> np.ndarray:
    bundle = snncc.compile(source, "loihi2", None, snncc.Options(timesteps=x.shape[1], samples=1,
                                                               semantics=NIR_SEMANTICS))
    run = bundle.run(x, "float")
    return run.layers[list(run.layers)[-1]].spikes


def _if_reference(drive: np.ndarray, thr: float = 1.0) -> np.ndarray:
    """IF with reset to zero on ``drive`` (batch, T, n)."""
    v, out = np.zeros(drive[:, 0].shape), []
    for t in range(drive.shape[1]):
        v = v + drive[:, t]
        s = v > thr
        v = np.where(s, 0.0, v)
        out.append(s)
    return np.stack(out, axis=1).astype(np.float64)


def test_nested_subgraph_with_scale_and_scalar_parameters(tmp_path) -> None:
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(0, 1, (5, 4)), rng.normal(0, 1, (3, 5))
    scale = rng.uniform(0.5, 2.0, 5)
    inner = nir.NIRGraph(nodes={"in": nir.Input(input_type={"input": np.array([5])}), "scale": nir.Scale(scale=scale),
                                "lif": _if(None), "out": nir.Output(output_type={"output": np.array([5])})},
                         edges=[("in", "scale"), ("scale", "lif"), ("lif", "out")], type_check=False)
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([4])}),
                                "w1": nir.Linear(weight=w1), "block": inner, "w2": nir.Linear(weight=w2),
                                "if2": _if(3), "output": nir.Output(output_type={"output": np.array([3])})},
                         edges=[("input", "w1"), ("w1", "block"), ("block", "w2"), ("w2", "if2"),
                                ("if2", "output")], type_check=False)  # nir 1.0.8 refuses scalars (NIR#176)
    path = tmp_path / "nested.nir"
    nir.write(path, graph)
    g = import_model(path, semantics=NIR_SEMANTICS)
    assert "block.lif" in g.nodes and "block" not in g.nodes
    x = (rng.random((2, 12, 4)) < 0.5).astype(np.int64)
    hidden = _if_reference(np.einsum("btn,mn->btm", x, w1) * scale)
    expected = _if_reference(np.einsum("btn,mn->btm", hidden, w2))
    assert hidden.any() and expected.any()
    np.testing.assert_array_equal(_float_spikes(path, x), expected)


def test_feature_maps_and_inferred_conv_and_pool_shapes(tmp_path) -> None:
    """(C, H, W) Input and neurons, a Conv2d without input_shape and a SumPool2d whose map NIR does not state (an
    in-memory graph: nir.write cannot write a Conv2d without input_shape)."""
    rng = np.random.default_rng(1)
    kernel = rng.normal(0, 1, (2, 1, 3, 3))
    conv = nir.Conv2d(input_shape=None, weight=kernel, stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(2))
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1, 4, 4])}), "conv": conv,
                                "if1": nir.IF(r=np.full((2, 4, 4), 1e3), v_threshold=np.ones((2, 4, 4))),
                                "pool": pool, "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}),
                                "w": nir.Linear(weight=rng.normal(0, 1, (3, 8))), "if2": _if(3),
                                "output": nir.Output(output_type={"output": np.array([3])})},
                         edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
                                ("flat", "w"), ("w", "if2"), ("if2", "output")], type_check=False)
    source = Graph(nodes=dict(graph.nodes), edges=list(graph.edges))
    x = (rng.random((2, 10, 16)) < 0.5).astype(np.int64)
    maps = torch.nn.functional.conv2d(torch.tensor(x.reshape(20, 1, 4, 4), dtype=torch.float64),
                                      torch.tensor(kernel), padding=1).numpy().reshape(2, 10, 32)
    s1 = _if_reference(maps).reshape(20, 2, 4, 4)
    pooled = s1.reshape(20, 2, 2, 2, 2, 2).sum(axis=(3, 5)).reshape(2, 10, 8)
    expected = _if_reference(np.einsum("btn,mn->btm", pooled, graph.nodes["w"].weight))
    assert expected.any()
    np.testing.assert_array_equal(_float_spikes(source, x), expected)
