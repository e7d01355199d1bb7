"""NIR files with missing fields, wrong types, inconsistent shapes, or nonsense values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import nir
import numpy as np

from . import Workspace, case


def valid_graph(**lif: np.ndarray) -> nir.NIRGraph:
    params = dict(tau=np.full(2, 1e-3), r=np.full(2, 10.0), v_leak=np.zeros(2), v_threshold=np.ones(2),
                  v_reset=np.zeros(2))
    params.update(lif)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([3])}),
               "affine": nir.Affine(weight=np.full((2, 3), 0.5), bias=np.array([0.1, 0.0])),
               "lif": nir.LIF(**params),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "affine"), ("affine", "lif"), ("lif", "output")],
    )


def _compile(path: Path, ws: Workspace, *extra: str) -> list[str]:
    return ["compile", str(path), "-o", str(ws.out), "--from", "nir", "--dt", "1e-4", "--samples", "2", *extra]


def _written(ws: Workspace, graph: nir.NIRGraph) -> Path:
    path = ws.root / "model.nir"
    nir.write(path, graph)
    return path


def _edited(ws: Workspace, edit: Callable[[h5py.File], None], graph: nir.NIRGraph | None = None) -> Path:
    """A valid NIR file, written by nir.write, then edited in place with h5py as a broken exporter would."""
    path = ws.root / "model.nir"
    nir.write(path, graph if graph is not None else valid_graph())
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _replace(f: h5py.File, key: str, data: object) -> None:
    del f[key]
    f[key] = data


def _file_case(name: str, edit: Callable[[h5py.File], None], *expect: str, dt_flag: bool = True) -> None:
    @case("nir-files", name, *expect)
    def build(ws: Workspace) -> list[str]:
        if dt_flag:
            return _compile(_edited(ws, edit), ws)
        return ["compile", str(_edited(ws, edit)), "-o", str(ws.out), "--reset", "zero", "--samples", "2"]


N = "node/nodes/"
_file_case("input-without-shape", lambda f: f.__delitem__(N + "input/shape"), "input", "shape")
_file_case("node-as-dataset", lambda f: (f.__delitem__(N + "affine"), f.create_dataset(N + "affine", data=[1, 2])),
           "affine", "group")
_file_case("weight-as-string", lambda f: _replace(f, N + "affine/weight", "heavy"), "affine", "weight")
_file_case("bias-as-string", lambda f: _replace(f, N + "affine/bias", "none"), "affine", "bias")
_file_case("tau-as-string", lambda f: _replace(f, N + "lif/tau", "fast"), "lif", "tau")
_file_case("type-missing", lambda f: f.__delitem__(N + "affine/type"), "affine", "type")
_file_case("type-unknown", lambda f: _replace(f, N + "affine/type", "Hypernet"), "affine", "Hypernet")
_file_case("no-node-group", lambda f: f.__delitem__("node"), "not a NIR")
_file_case("top-not-graph", lambda f: _replace(f, "node/type", "Affine"), "NIRGraph")
_file_case("edges-three-columns", lambda f: _replace(f, "node/edges", np.array([["input", "affine", "lif"]], "S")),
           "edges")
_file_case("edge-to-unknown-node", lambda f: _replace(
    f, "node/edges", np.array([["input", "affine"], ["affine", "lif"], ["lif", "output"], ["lif", "ghost"]], "S")),
    "ghost")
_file_case("edges-missing", lambda f: f.__delitem__("node/edges"), "edges")
_file_case("dt-as-string", lambda f: f.create_dataset("node/metadata/dt", data="fast"), "dt", "fast",
           dt_flag=False)
_file_case("dt-negative", lambda f: f.create_dataset("node/metadata/dt", data=-1.0), "dt", "-1", dt_flag=False)
_file_case("weight-bias-mismatch", lambda f: _replace(f, N + "affine/bias", np.zeros(5)), "affine", "bias")
_file_case("weight-one-dimensional", lambda f: _replace(f, N + "affine/weight", np.ones(3)), "affine", "weight")
_file_case("weight-three-dimensional", lambda f: _replace(f, N + "affine/weight", np.ones((2, 3, 1))),
           "affine", "weight")
_file_case("weight-nan", lambda f: _replace(f, N + "affine/weight", np.full((2, 3), np.nan)), "affine", "finite")
_file_case("weight-complex", lambda f: _replace(f, N + "affine/weight", np.full((2, 3), 1 + 1j)), "affine",
           "complex")
_file_case("weight-boolean", lambda f: _replace(f, N + "affine/weight", np.ones((2, 3), bool)), "affine", "weight")
_file_case("lif-lengths-differ", lambda f: _replace(f, N + "lif/r", np.ones(3)), "lif", "r")
_file_case("lif-missing-field", lambda f: f.__delitem__(N + "lif/tau"), "lif", "tau")
_file_case("input-shape-negative", lambda f: _replace(f, N + "input/shape", np.array([-3])), "input", "shape")
_file_case("input-shape-zero", lambda f: _replace(f, N + "input/shape", np.array([0])), "input", "shape")
_file_case("input-shape-fraction", lambda f: _replace(f, N + "input/shape", np.array([2.5])), "input", "shape")
_file_case("input-shape-mismatch", lambda f: _replace(f, N + "input/shape", np.array([4])), "affine")


def _lif_case(name: str, field: str, value: float, *expect: str) -> None:
    @case("nir-files", name, *expect)
    def build(ws: Workspace) -> list[str]:
        path = ws.root / "model.nir"
        nir.write(path, valid_graph(**{field: np.full(2, value)}))
        return _compile(path, ws)


_lif_case("tau-zero", "tau", 0.0, "lif", "tau")
_lif_case("tau-negative", "tau", -1e-3, "lif", "tau")
_lif_case("tau-nan", "tau", np.nan, "lif", "tau")
_lif_case("threshold-inf", "v_threshold", np.inf, "lif", "v_threshold")
_lif_case("r-nan", "r", np.nan, "lif", "r")
_lif_case("v-leak-inf", "v_leak", -np.inf, "lif", "v_leak")


@case("nir-files", "truncated", "model.nir")
def _truncated(ws: Workspace) -> list[str]:
    path = ws.root / "model.nir"
    nir.write(path, valid_graph())
    path.write_bytes(path.read_bytes()[:1500])
    return _compile(path, ws)


@case("nir-files", "two-inputs", "Input")
def _two_inputs(ws: Workspace) -> list[str]:
    g = valid_graph()
    g.nodes["input2"] = nir.Input(input_type={"input": np.array([3])})
    g.edges.append(("input2", "affine"))
    return _compile(_written(ws, g), ws)


@case("nir-files", "no-output", "Output")
def _no_output(ws: Workspace) -> list[str]:
    g = valid_graph()
    del g.nodes["output"]
    g.edges.remove(("lif", "output"))
    return _compile(_written(ws, g), ws)


@case("nir-files", "cycle-without-neuron", "cycle", "neuron")
def _cycle(ws: Workspace) -> list[str]:
    """Two synapses feeding each other: a loop no neuron delays, which no step order can compute."""
    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([3])}),
               "a": nir.Affine(weight=np.eye(3), bias=np.zeros(3)),
               "b": nir.Affine(weight=np.eye(3), bias=np.zeros(3)),
               "lif": nir.LIF(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3),
                              v_reset=np.zeros(3)),
               "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "a"), ("a", "b"), ("b", "a"), ("a", "lif"), ("lif", "output")],
    )
    return _compile(_written(ws, g), ws)


@case("nir-files", "self-edge", "lif")
def _self_edge(ws: Workspace) -> list[str]:
    g = valid_graph()
    g.edges.append(("lif", "lif"))
    return _compile(_written(ws, g), ws)


@case("nir-files", "empty-graph", "Input")
def _empty(ws: Workspace) -> list[str]:
    return _compile(_written(ws, nir.NIRGraph(nodes={}, edges=[])), ws)


@case("nir-files", "no-dt", "--dt")
def _no_dt(ws: Workspace) -> list[str]:
    path = ws.root / "model.nir"
    nir.write(path, valid_graph())
    return ["compile", str(path), "-o", str(ws.out), "--reset", "zero", "--threshold", "gt",
            "--discretization", "euler"]


def _dt_case(name: str, dt: str) -> None:
    @case("nir-files", name, "--dt", dt)
    def build(ws: Workspace) -> list[str]:
        path = ws.root / "model.nir"
        nir.write(path, valid_graph())
        return ["compile", str(path), "-o", str(ws.out), "--from", "nir", "--dt", dt]


_dt_case("dt-flag-zero", "0")
_dt_case("dt-flag-negative", "-1")
_dt_case("dt-flag-nan", "nan")
_dt_case("dt-flag-inf", "inf")
