"""Import NIR files (standard nodes) and make their time step and reset semantics explicit.

NIR stores no ``dt`` and only reset-to-value, and every exporter assumes its own (snnTorch and SpikingJelly 1e-4 s,
Norse 1e-3 s, Sinabs one step). snncc never guesses silently: the time step comes from the file's
``metadata['dt']`` (written by snncc) or from the user (``--dt``), and the reset mode from ``--reset``
(NIR's documented semantics, ``zero``, by default). Both are recorded in the graph metadata.
"""

from __future__ import annotations

from pathlib import Path

import nir

from ..errors import GraphError, ModelLoadError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import Graph, keys, read_graph, type_name
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
    return graph


def apply_time_semantics(graph: Graph, dt: float | None, reset: str | None) -> Graph:
    """Return a copy of ``graph`` whose metadata states ``dt`` and the default reset mode explicitly."""
    g = graph.copy()
    if dt is not None:
        if not dt > 0:
            raise GraphError(f"dt must be positive, got {dt}")
        g.metadata[keys.DT] = float(dt)
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
