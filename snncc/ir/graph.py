"""The IR graph: named nodes (standard NIR or snncc types), directed edges, graph-level metadata.

Edges into one node are summed (NIR semantics). Graph metadata makes explicit what NIR leaves implicit:
``dt`` (seconds per step of the discrete model), the source of the graph, and the input encoding
(see :mod:`snncc.ir.encoding`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import nir
import numpy as np

from ..errors import GraphError
from . import keys
from .nodes import IntegerSynapse, SnnccNode

Node = Any  # nir.NIRNode | SnnccNode

SYNAPSE_TYPES = (nir.Affine, nir.Linear, nir.Conv2d, IntegerSynapse)


def type_name(node: Node) -> str:
    """The serialised type name: NIR's class name, or ``snncc.X`` for snncc nodes."""
    return node.TYPE if isinstance(node, SnnccNode) else type(node).__name__


def layer_size(node: Node) -> int:
    """Number of neurons of a (1-D) neuron layer node."""
    return int(np.prod(node_shapes(node)[1]))


def node_shapes(node: Node) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """(input shape, output shape) of a node, or None where the node does not fix it."""
    if isinstance(node, SnnccNode):
        return node.in_shape, node.out_shape
    if isinstance(node, nir.Input):
        s = tuple(int(x) for x in np.atleast_1d(node.input_type["input"]))
        return s, s
    if isinstance(node, nir.Output):
        s = tuple(int(x) for x in np.atleast_1d(node.output_type["output"]))
        return s, s
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight)
        return (w.shape[-1],), (w.shape[-2],)
    if isinstance(node, nir.Conv2d):
        from ..conv import nir_geometry

        try:
            geom = nir_geometry(node)
        except ValueError:  # no input shape or string padding: canonicalize names the layer
            return None, None
        return (geom.in_size,), (geom.out_size,)
    if isinstance(node, nir.Flatten):
        s = tuple(int(x) for x in np.atleast_1d(node.input_type["input"]))
        return s, (int(np.prod(s)),)
    if isinstance(node, nir.Scale):
        s = np.asarray(node.scale).shape
        return s, s
    return _nir_type(node, "input_type", "input"), _nir_type(node, "output_type", "output")


def _nir_type(node: Node, attr: str, key: str) -> tuple[int, ...] | None:
    """A NIR node's own shape of its port (NIR's neurons state theirs), or None."""
    value = (getattr(node, attr, None) or {}).get(key)
    return None if value is None else tuple(int(x) for x in np.atleast_1d(value))


@dataclass
class Graph:
    """A compiler IR graph. Passes take one and return a new one (``copy()`` first; never mutate the input)."""

    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Graph:
        return copy.deepcopy(self)

    # ---- structure -------------------------------------------------------------------------------------
    def predecessors(self, name: str) -> list[str]:
        return list(self._adjacency()[1].get(name, ()))

    def successors(self, name: str) -> list[str]:
        return list(self._adjacency()[0].get(name, ()))

    def _adjacency(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Successors and predecessors of every node, in edge order, rebuilt when ``edges`` changed: passes replace
        the list or append to it (a scan per call made mapping a 6,000-layer network take minutes)."""
        key = (len(self.edges), self.edges[0] if self.edges else None, self.edges[-1] if self.edges else None)
        cached = self.__dict__.get("_adjacency_cache")
        if cached is None or cached[0] is not self.edges or cached[1] != key:
            succ: dict[str, list[str]] = {}
            pred: dict[str, list[str]] = {}
            for a, b in self.edges:
                succ.setdefault(a, []).append(b)
                pred.setdefault(b, []).append(a)
            cached = (self.edges, key, succ, pred)
            self.__dict__["_adjacency_cache"] = cached
        return cached[2], cached[3]

    def of_type(self, *types: type) -> Iterator[tuple[str, Node]]:
        for name in self.topological_order():
            if isinstance(self.nodes[name], types):
                yield name, self.nodes[name]

    @property
    def input_names(self) -> list[str]:
        return [n for n, v in self.nodes.items() if isinstance(v, nir.Input)]

    @property
    def output_names(self) -> list[str]:
        return [n for n, v in self.nodes.items() if isinstance(v, nir.Output)]

    def is_recurrent(self, name: str) -> bool:
        """True for a synapse marked as feedback: it carries the previous step's spikes back to a layer."""
        node = self.nodes[name]
        return isinstance(node, SYNAPSE_TYPES) and bool(getattr(node, "metadata", {}).get(keys.RECURRENT))

    def feedforward_edges(self) -> list[tuple[str, str]]:
        """All edges but those into recurrent synapses (which close the only cycles a graph may have)."""
        return [(a, b) for a, b in self.edges if not self.is_recurrent(b)]

    def to_networkx(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from(self.feedforward_edges())
        return g

    def topological_order(self) -> list[str]:
        """Nodes in dependency order (ignoring the inputs of recurrent synapses); any other cycle is an error."""
        position = {name: f"{i:08d}" for i, name in enumerate(self.nodes)}  # ties broken by insertion order
        try:
            return list(nx.lexicographical_topological_sort(self.to_networkx(), key=position.__getitem__))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(self.to_networkx())
            path = " -> ".join([*(a for a, _ in cycle), cycle[0][0]])
            if all(isinstance(self.nodes[a], SYNAPSE_TYPES) for a, _ in cycle):
                raise GraphError(f"cycle {path} passes through no neuron layer: a loop needs a neuron to carry it "
                                 "from one step to the next") from None
            raise GraphError(
                "recurrent connections are not supported (only snncc's own lateral synapses may close a cycle): "
                "cycle " + " -> ".join(a for a, _ in cycle)
            ) from None

    def synapse_depth(self) -> dict[str, int]:
        """Number of synapse nodes on the path from the input to each node (its latency in steps in Lava).

        Recurrent synapses do not add latency to the layer they feed back into.
        """
        depth: dict[str, int] = {}
        for name in self.topological_order():
            if self.is_recurrent(name):
                continue  # placed after its source below: its input edge is ignored by the ordering
            preds = [p for p in self.predecessors(name) if not self.is_recurrent(p)]
            d = max((depth[p] for p in preds), default=0)
            depth[name] = d + (1 if isinstance(self.nodes[name], SYNAPSE_TYPES) else 0)
        for name in self.nodes:
            if self.is_recurrent(name):
                depth[name] = max(depth[p] for p in self.predecessors(name))
        return depth

    # ---- checks ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Structural invariants every graph satisfies between passes."""
        seen = set()
        for a, b in self.edges:
            for end in (a, b):
                if end not in self.nodes:
                    raise GraphError(f"edge ({a} -> {b}) names node '{end}', which does not exist")
            if (a, b) in seen:
                raise GraphError(f"duplicate edge ({a} -> {b})")
            seen.add((a, b))
        if len(self.input_names) != 1:
            raise GraphError(f"the graph must have exactly one Input node, found {len(self.input_names)}")
        if not self.output_names:
            raise GraphError("the graph has no Output node")
        for name in self.input_names:
            if self.predecessors(name):
                raise GraphError(f"Input node '{name}' has incoming edges")
        for name in self.output_names:
            if self.successors(name):
                raise GraphError(f"Output node '{name}' has outgoing edges")
            if len(self.predecessors(name)) != 1:
                raise GraphError(f"Output node '{name}' must have exactly one source")
        for name, node in self.nodes.items():
            if not isinstance(node, nir.Input) and not self.predecessors(name):
                raise GraphError(f"node '{name}' has no input")
            in_shape, _ = node_shapes(node)
            for p in self.predecessors(name):
                _, out_shape = node_shapes(self.nodes[p])
                if in_shape is not None and out_shape is not None and tuple(in_shape) != tuple(out_shape):
                    raise GraphError(
                        f"shape mismatch on edge ({p} -> {name}): {p} gives {tuple(out_shape)}, "
                        f"{name} takes {tuple(in_shape)}"
                    )
        self.topological_order()

    # ---- display ---------------------------------------------------------------------------------------
    def summary(self) -> str:
        """A human-readable listing: one line per node with its type, shapes and key parameters."""
        lines = [f"graph ({len(self.nodes)} nodes, {len(self.edges)} edges) metadata={_short(self.metadata)}"]
        for name in self.topological_order():
            node = self.nodes[name]
            i, o = node_shapes(node)
            preds = ",".join(self.predecessors(name)) or "-"
            lines.append(f"  {name:<16} {type_name(node):<14} in={i} out={o} <- {preds}{_params(node)}")
        return "\n".join(lines)


def _short(d: dict[str, Any], width: int = 60) -> str:
    items = (f"{k}: {v!r}" for k, v in d.items())
    return "{" + ", ".join(i if len(i) <= width else i[: width - 3] + "..." for i in items) + "}"


def _params(node: Node) -> str:
    text = node.summary() if isinstance(node, SnnccNode) else ""
    return f"  {text}" if text else ""
