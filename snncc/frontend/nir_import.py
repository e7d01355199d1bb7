"""Import NIR files (standard nodes) and make their time step and reset semantics explicit.

NIR stores no ``dt`` and only reset-to-value, and every exporter assumes its own (snnTorch and SpikingJelly 1e-4 s,
Norse 1e-3 s, Sinabs one step). snncc never guesses silently: the time step comes from the file's
``metadata['dt']`` (written by snncc) or from the user (``--dt``), and the reset mode from ``--reset``
(NIR's documented semantics, ``zero``, by default). Both are recorded in the graph metadata.
"""

from __future__ import annotations

import math
from pathlib import Path

import nir

from .. import values
from ..errors import GraphError, ModelLoadError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import Graph, keys, read_graph, type_name
from ..ir.checks import check_nir_node
from ..ir.nodes import RESET_MODES

DT_HINT = "NIR stores no time step; pass --dt (snnTorch/SpikingJelly exports use 1e-4, Norse 1e-3, Sinabs 1)"
SUPPORTED_NIR = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Flatten, *REGISTRY.nir_types())


def read_nir_file(path: Path) -> Graph:
    """Read a NIR (or snncc IR) file; nested subgraphs and unsupported node types are reported by name."""
    try:
        graph = read_graph(path)
    except GraphError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise UnsupportedLayerError("nested NIR subgraphs are not supported yet", layer=name,
                                        hint="flatten the subgraph into the top-level graph")
        if isinstance(node, nir.NIRNode) and not isinstance(node, SUPPORTED_NIR):
            raise UnsupportedLayerError(f"NIR node type {type_name(node)} is not supported", layer=name,
                                        hint="supported: " + ", ".join(c.__name__ for c in SUPPORTED_NIR))
        if isinstance(node, nir.NIRNode):
            try:
                check_nir_node(name, node, REGISTRY.is_nir_neuron(node))
            except GraphError as exc:
                raise ModelLoadError(f"{path}: {exc}") from None
    return graph


def apply_time_semantics(graph: Graph, dt: float | None, reset: str | None) -> Graph:
    """Return a copy of ``graph`` whose metadata states ``dt`` and the default reset mode explicitly."""
    g = graph.copy()
    if dt is not None:
        g.metadata[keys.DT] = values.positive(dt, "--dt")
    elif keys.DT in g.metadata:
        stored = g.metadata[keys.DT]
        if isinstance(stored, bool) or not isinstance(stored, (int, float)) or not (stored > 0 and stored < math.inf):
            raise GraphError(f"the file's metadata gives dt = {stored!r}, not a positive number of seconds",
                             hint="pass --dt to set the time step")
    has_continuous = any(REGISTRY.is_nir_neuron(n) for n in g.nodes.values())
    if has_continuous and keys.DT not in g.metadata:
        raise GraphError("the graph's time step is unknown", hint=DT_HINT)
    if reset is not None:
        if reset not in RESET_MODES:
            raise GraphError(f"reset must be one of {RESET_MODES}, got {reset!r}")
        g.metadata[keys.RESET] = reset
    g.metadata.setdefault(keys.RESET, "zero")
    g.metadata.setdefault(keys.SOURCE_KIND, "nir")
    g.validate()
    return g
