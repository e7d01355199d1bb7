"""NIR's shapes -> the IR's: nested subgraphs flattened, shapes inferred from the Input, every layer flat.

NIR writes feature maps as (C, H, W), neuron parameters in the layer's shape (or as scalars, NIR#176), may leave
a convolution's ``input_shape`` or a pooling's shape to inference and nest graphs in graphs. The IR's layers are
1-D and every convolution and pooling states its input map, so shapes are propagated once from the Input here and
the graph is rewritten flat; what cannot be inferred is an error naming the node.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import nir
import numpy as np

from ..conv import pair
from ..errors import GraphError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import FloatNeuron, Graph, SnnccNode, keys
from ..ir.synapses import FLOAT_SYNAPSES

POOLS = (nir.AvgPool2d, nir.SumPool2d)
SUPPORTED_STRUCTURE = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv2d, *POOLS, nir.Flatten, nir.Scale)
NEURON_PARAMETERS = ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in")


def normalise(g: Graph) -> Graph:
    """``g`` with subgraphs flattened, inferred shapes filled in and every shape flat (rewritten in place)."""
    _flatten_subgraphs(g)
    for a, b in g.edges:
        for end in (a, b):
            if end not in g.nodes:
                raise GraphError(f"edge ({a} -> {b}) names node '{end}', which does not exist")
    for name, node in g.nodes.items():
        if isinstance(node, nir.Delay):
            raise UnsupportedLayerError("NIR Delay nodes are not supported: the Loihi targets' Lava processes "
                                        "here have no synaptic delays", layer=name)
    _mark_recurrent(g)
    _refuse_batch_dimension(g)
    shapes = _infer(g)
    for name in list(g.nodes):
        g.nodes[name] = _flat(g, name, g.nodes[name], shapes)
    return g


# ---- subgraphs ---------------------------------------------------------------------------------------------
def _flatten_subgraphs(g: Graph) -> None:
    """A nested NIRGraph becomes its nodes, named ``<graph>.<node>``; edges into it go to its Input's consumers,
    edges out of it leave from its Output's source."""
    while True:
        nested = [n for n, v in g.nodes.items() if isinstance(v, nir.NIRGraph)]
        if not nested:
            return
        name = nested[0]
        sub = g.nodes.pop(name)
        inner = {f"{name}.{k}": v for k, v in sub.nodes.items()}
        ins = [k for k, v in inner.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in inner.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise UnsupportedLayerError(f"a nested graph needs one Input and one Output, it has {len(ins)} and "
                                        f"{len(outs)}", layer=name)
        edges = [(f"{name}.{a}", f"{name}.{b}") for a, b in sub.edges]
        entry = [b for a, b in edges if a == ins[0]]
        exit_ = [a for a, b in edges if b == outs[0]]
        edges = [e for e in edges if ins[0] not in e and outs[0] not in e]
        for k in (*ins, *outs):
            del inner[k]
        outer = []
        for a, b in g.edges:
            if b == name:
                outer += [(a, e) for e in entry]
            elif a == name:
                outer += [(x, b) for x in exit_]
            else:
                outer.append((a, b))
        g.nodes.update(inner)
        g.edges = outer + edges


def _mark_recurrent(g: Graph) -> None:
    """Each cycle (an edge back to a node on the path from the Input) is closed by a synapse that feeds a neuron
    layer's spikes back: it is marked recurrent (it delivers the previous step's spikes, Lava's one-step synapse).
    Synapses marked already (an integer graph read from a netx ``dense_rec`` block) close their cycles."""
    graph = nx.DiGraph(g.feedforward_edges())
    graph.add_nodes_from(g.nodes)
    if nx.is_directed_acyclic_graph(graph):
        return
    for a, b, kind in nx.dfs_labeled_edges(graph, source=g.input_names[0] if g.input_names else None):
        if kind != "nontree" or b not in nx.ancestors(graph, a) | {a}:
            continue
        closing = a if isinstance(g.nodes[a], FLOAT_SYNAPSES) else b if isinstance(g.nodes[b], FLOAT_SYNAPSES) else None
        if closing is None:
            raise UnsupportedLayerError(f"the cycle closed by {a} -> {b} has no synapse to carry a neuron layer's "
                                        "spikes back", layer=a)
        if not all(REGISTRY.is_nir_neuron(g.nodes[p]) or isinstance(g.nodes[p], FloatNeuron)
                   for p in g.predecessors(closing)):
            raise UnsupportedLayerError(f"the cycle closed by {a} -> {b} is not fed by a neuron layer: a loop needs "
                                        "a neuron to carry it from one step to the next", layer=closing)
        g.nodes[closing].metadata[keys.RECURRENT] = True


def input_rank(node: Any) -> int | None:
    """The rank of the input a node takes (None: any): a dense layer 1-D, a convolution (C, H, W), a NIR neuron
    its parameters' rank."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        return 1
    if isinstance(node, nir.Conv2d):
        return 3
    if hasattr(node, "r"):
        return max(int(np.ndim(getattr(node, "v_threshold", node.r))), 1)
    return None


def _refuse_batch_dimension(g: Graph) -> None:
    """An Input with more dimensions than its consumer takes holds a batch (or time) dimension, which NIR shapes
    never include: the mark of exports through nirtorch's extract_nir_graph without ignore_dims."""
    for name in g.input_names:
        shape = np.atleast_1d(g.nodes[name].input_type["input"])
        for s in g.successors(name):
            rank = input_rank(g.nodes[s])
            if rank is not None and len(shape) > rank:
                raise GraphError(f"the Input's shape {list(shape)} has more dimensions than '{s}' takes ({rank}): a "
                                 "batch dimension, as exports through nirtorch's extract_nir_graph without "
                                 "ignore_dims write it (Norse 1.1, Rockpool 3.1)", layer=name,
                                 hint="pass --from norse or --from rockpool, which remove it")


# ---- shape inference ---------------------------------------------------------------------------------------
def _infer(g: Graph) -> dict[str, tuple[int, ...]]:
    """name -> output shape (unflattened), from the Input forward."""
    out: dict[str, tuple[int, ...]] = {}
    for name in g.topological_order():
        node = g.nodes[name]
        preds = g.predecessors(name)
        shape_in = out.get(preds[0]) if preds else None
        for p in preds[1:]:
            if out.get(p) is not None and shape_in is not None and int(np.prod(out[p])) != int(np.prod(shape_in)):
                raise GraphError(f"inputs of different sizes are summed: {preds[0]} gives {shape_in}, {p} gives "
                                 f"{out[p]}", layer=name)
        out[name] = _output_shape(name, node, shape_in)
    return out


def _output_shape(name: str, node: Any, s: tuple[int, ...] | None) -> tuple[int, ...]:
    if isinstance(node, nir.Input):
        return tuple(int(v) for v in np.atleast_1d(node.input_type["input"]))
    if isinstance(node, (nir.Affine, nir.Linear)):  # (a recurrent one is ordered before its source)
        return (int(np.asarray(node.weight).shape[0]),)
    if isinstance(node, SnnccNode):  # snncc's own nodes (an IR file, a netx import) state their shapes, flat
        return tuple(node.out_shape)
    if s is None:
        raise GraphError("its input's shape is unknown", layer=name)
    if isinstance(node, nir.Conv2d):
        c, h, w = _map(name, s)
        weight = np.asarray(node.weight)
        if isinstance(node.padding, str):
            if node.padding == "valid":
                node.padding = 0
            elif node.padding == "same":
                return (int(weight.shape[0]), h, w)
        return (int(weight.shape[0]), *_window(h, w, weight.shape[2:], node.stride, node.padding, node.dilation))
    if isinstance(node, POOLS):
        c, h, w = _map(name, s)
        return (c, *_window(h, w, pair(node.kernel_size), node.stride, node.padding, 1))
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim) % len(s), int(node.end_dim) % len(s)
        return (*s[:start], int(np.prod(s[start:end + 1])), *s[end + 1:])
    return s


def _map(name: str, s: tuple[int, ...]) -> tuple[int, int, int]:
    if len(s) != 3:
        raise GraphError(f"a 2-D convolution or pooling takes a (C, H, W) map, its input is {s}", layer=name)
    return int(s[0]), int(s[1]), int(s[2])


def _window(h: int, w: int, kernel: Any, stride: Any, padding: Any, dilation: Any) -> tuple[int, int]:
    (ky, kx), (sy, sx), (py, px), (dy, dx) = pair(kernel), pair(stride), pair(padding), pair(dilation)
    return (h + 2 * py - dy * (ky - 1) - 1) // sy + 1, (w + 2 * px - dx * (kx - 1) - 1) // sx + 1


# ---- flat rewrite ------------------------------------------------------------------------------------------
def _flat(g: Graph, name: str, node: Any, shapes: dict[str, tuple[int, ...]]) -> Any:
    preds = g.predecessors(name)
    s_in = shapes[preds[0]] if preds else shapes[name]
    size = int(np.prod(shapes[name]))
    meta = dict(node.metadata)
    if isinstance(node, nir.Input):
        return nir.Input(input_type={"input": np.array([size])}, metadata=meta)
    if isinstance(node, nir.Output):
        return nir.Output(output_type={"output": np.array([size])}, metadata=meta)
    if isinstance(node, nir.Conv2d):
        node.input_shape = np.array(s_in[1:])
        return node
    if isinstance(node, POOLS):
        node.metadata[keys.INPUT_SHAPE] = [int(v) for v in s_in]
        return node
    if isinstance(node, nir.Flatten):
        return nir.Flatten(input_type={"input": np.array([size])}, start_dim=0, end_dim=-1, metadata=meta)
    if isinstance(node, nir.Scale):
        scale = np.broadcast_to(np.asarray(node.scale, np.float64).reshape(-1), (size,))
        return nir.Affine(weight=np.diag(scale), bias=np.zeros(size), metadata=meta)
    if REGISTRY.is_nir_neuron(node):
        return _flat_neuron(name, node, size)
    return node


def _flat_neuron(name: str, node: Any, size: int) -> Any:
    """Neuron parameters as 1-D arrays of the layer's size; a scalar (or one-element) parameter is broadcast."""
    d = node.to_dict()
    for f in NEURON_PARAMETERS:
        if f in d and d[f] is not None:
            a = np.asarray(d[f], np.float64).reshape(-1)
            if a.size not in (1, size):
                raise GraphError(f"parameter {f} has {a.size} values for a layer of {size} neurons", layer=name)
            d[f] = np.broadcast_to(a, (size,)).copy()
    d.pop("type", None)
    return type(node)(**d)
