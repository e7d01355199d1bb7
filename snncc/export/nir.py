"""A bundle's float graph as standard NIR (``snncc export BUNDLE --nir out.nir``).

The float graph is the trained model in canonical form (biases in the neurons, gains and the input scale folded into
the weights), so the file consumes the bundle's integer payloads. Neurons become NIR's LIF, IF or CubaLIF through
their family's ``to_nir`` with the export's ``dt``; what standard NIR cannot say is one row of :func:`feature_table`
(the graph-level rows here, each family's in its ``nir_features``), expressed, kept as snncc metadata when the user
allows it, or refused with a :class:`UnsupportedLayerError` naming the layer. The graph's and every neuron's metadata
record ``dt`` and where the file came from, so ``snncc compile out.nir`` needs no ``--dt``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nir
import numpy as np

from .._version import __version__
from ..conv import nir_geometry
from ..errors import SnnccError, UnsupportedLayerError, first_line
from ..families import REGISTRY
from ..families.base import EXPRESSED, METADATA, REFUSED, NirFeature
from ..ir import FloatNeuron, Graph, IntegerNeuron, IntegerSynapse, SnnccNode, keys, type_name
from ..ir.semantics import NeuronSemantics

ANY = "any node"
GRAPH_KEYS = (keys.INPUT, keys.TIMESTEPS)  # graph metadata a re-import needs besides dt (input already scaled)
METADATA_HINT = "pass --allow-metadata to write it so"


def _other_family(node: Any) -> bool:
    return isinstance(node, FloatNeuron) and not REGISTRY.of(node).nir_features


def _feedback_delay(node: Any) -> int:
    return int((getattr(node, "metadata", None) or {}).get(keys.FEEDBACK_DELAY, 1))


GRAPH_FEATURES: tuple[NirFeature, ...] = (
    NirFeature(ANY, "the integer graph (graph.nir: integer neurons and synapses)", REFUSED,
               "NIR has no fixed-point formats; the float graph is exported and 'snncc compile' derives the same "
               "integer graph from it", applies=lambda n: isinstance(n, (IntegerNeuron, IntegerSynapse))),
    NirFeature(ANY, "a float neuron of a family without a NIR neuron (snncc's own models)", REFUSED,
               "no standard NIR primitive computes it", applies=_other_family),
    NirFeature(ANY, "Input, Output", EXPRESSED, "nir.Input / nir.Output, (C, H, W) when a Conv2d reads the input"),
    NirFeature(ANY, "Linear synapse", EXPRESSED, "nir.Linear, or nir.Affine carrying the neuron's bias"),
    NirFeature(ANY, "Conv2d synapse", EXPRESSED, "nir.Conv2d with input_shape; the neuron after it has the map shape"),
    NirFeature("Conv2d", "a grouped convolution (groups > 1)", REFUSED,
               "nir 1.0.8's type check takes a Conv2d's input channels from its kernel (C_in / groups), so nir.read "
               "rejects the file", applies=lambda n: int(n.groups) > 1),
    NirFeature(ANY, "a (C, H, W) map read by a Linear synapse", EXPRESSED, "a nir.Flatten node is inserted"),
    NirFeature(ANY, "a flat layer output read by a Conv2d", REFUSED, "NIR has no Unflatten or Reshape node"),
    NirFeature(ANY, "a recurrent synapse (a loop)", EXPRESSED,
               "a NIR cycle: the synapse feeds a neuron layer's spikes back into it or an earlier one, delivered one "
               "step later (docs/semantics.md, Timing)"),
    NirFeature(ANY, "a loop whose feedback takes more than one step (Recurrent(..., delay=k))", METADATA,
               "a NIR cycle delivers after one step; written as synapse metadata snncc.feedback_delay, which snncc's "
               "import reads back and other NIR tools ignore", applies=lambda n: _feedback_delay(n) > 1,
               record=lambda n: {keys.FEEDBACK_DELAY: _feedback_delay(n)}),
    NirFeature(ANY, "pooling", EXPRESSED, "never in a float graph: canonicalize fuses it into the next synapse"),
    NirFeature(ANY, "dt, input encoding, timesteps", EXPRESSED,
               "graph metadata dt, input, timesteps; each neuron's metadata dt and snncc.exported_from"),
)


def feature_table() -> tuple[NirFeature, ...]:
    """The one table of what standard NIR makes of each feature: the graph-level rows and every family's."""
    return GRAPH_FEATURES + tuple(row for fam in REGISTRY for row in fam.nir_features)


def to_nir_graph(graph: Graph, dt: float | None = None, *, allow_metadata: bool = False,
                 warn: Callable[[str], None] | None = None, provenance: dict[str, Any] | None = None) -> nir.NIRGraph:
    """``graph`` (a canonical float graph) as a type-checked standard ``nir.NIRGraph`` with time step ``dt``
    (default: the graph's own)."""
    dt = float(graph.metadata.get(keys.DT, 1.0) if dt is None else dt)
    say = warn or (lambda _msg: None)
    order = graph.topological_order()
    notes = {name: _apply_rows(name, graph.nodes[name], allow_metadata, say) for name in order}
    shapes = _shapes(graph, order)
    nodes: dict[str, Any] = {}
    biases: dict[str, np.ndarray] = {}
    for name in order:
        node = graph.nodes[name]
        if isinstance(node, nir.Input):
            nodes[name] = nir.Input(input_type={"input": np.array(shapes[name])}, metadata=dict(node.metadata))
        elif isinstance(node, nir.Output):
            (src,) = graph.predecessors(name)
            nodes[name] = nir.Output(output_type={"output": np.array(shapes[src])}, metadata=dict(node.metadata))
        elif isinstance(node, FloatNeuron):
            carrier = _bias_carrier(graph, name, node)
            made, bias = REGISTRY.of(node, name).to_nir(node, dt, name, shapes[name], carrier is not None)
            made.metadata = {**node.metadata, **notes[name], keys.DT: dt, keys.EXPORTED_FROM: type_name(node)}
            nodes[name] = made
            if bias is not None:
                biases[carrier] = bias
        elif isinstance(node, (nir.Linear, nir.Affine, nir.Conv2d)):
            nodes[name] = node
        else:
            raise UnsupportedLayerError(f"standard NIR has no node for {type_name(node)}", layer=name)
    for name, bias in biases.items():
        nodes[name] = _with_bias(nodes[name], bias)
    edges = _flattened_edges(graph, shapes, nodes)
    meta = {k: graph.metadata[k] for k in GRAPH_KEYS if k in graph.metadata}
    # NIR's own semantics with the export's dt (per-layer exceptions are node metadata rows): snncc's import needs
    # no --from for the file, and states where the choices came from
    meta.update(NeuronSemantics(dt, "zero", False, "euler").to_metadata())
    meta[keys.EXPORTED_FROM] = {"snncc": __version__, **(provenance or {})}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError, KeyError) as exc:
        raise SnnccError(f"internal: the exported graph fails NIR's type check: {first_line(exc)}") from None


def _apply_rows(name: str, node: Any, allow_metadata: bool, say: Callable[[str], None]) -> dict[str, Any]:
    """The node metadata the table's ``metadata`` rows add for ``node``; the error of the first refused row."""
    notes: dict[str, Any] = {}
    for row in feature_table():
        if row.applies is None or row.node not in (ANY, type_name(node)) or not row.applies(node):
            continue
        if row.verdict == REFUSED:
            raise UnsupportedLayerError(f"standard NIR cannot say {row.feature}: {row.how}", layer=name)
        if row.verdict == METADATA:
            if not allow_metadata:
                raise UnsupportedLayerError(f"standard NIR cannot say {row.feature}: {row.how}", layer=name,
                                            hint=METADATA_HINT)
            say(f"layer '{name}': {row.feature} is written as snncc metadata only ({row.how})")
            notes.update(row.record(node) if row.record else {})
    return notes


def _shapes(graph: Graph, order: list[str]) -> dict[str, tuple[int, ...]]:
    """Each node's NIR output shape: (C, H, W) out of a Conv2d and for the neurons it feeds, else flat."""
    out: dict[str, tuple[int, ...]] = {}
    for name in order:
        node = graph.nodes[name]
        if isinstance(node, nir.Input):
            maps = {nir_geometry(graph.nodes[s]).in_shape for s in graph.successors(name)
                    if isinstance(graph.nodes[s], nir.Conv2d)}
            if len(maps) > 1:
                raise UnsupportedLayerError(f"convolutions read the input as different maps {sorted(maps)}",
                                            layer=name)
            flat = (int(np.prod(node.input_type["input"])),)
            out[name] = maps.pop() if maps else flat
        elif isinstance(node, nir.Conv2d):
            out[name] = nir_geometry(node).out_shape
        elif isinstance(node, (nir.Linear, nir.Affine)):
            out[name] = (int(np.asarray(node.weight).shape[0]),)
        elif isinstance(node, FloatNeuron):
            maps = {out[p] for p in graph.predecessors(name) if p in out}
            out[name] = maps.pop() if len(maps) == 1 else (node.size,)
        elif isinstance(node, SnnccNode):
            out[name] = tuple(node.out_shape)
    return out


def _bias_carrier(graph: Graph, name: str, node: FloatNeuron) -> str | None:
    """The synapse into ``name`` that can carry its per-neuron bias exactly (a Conv2d: one value per channel)."""
    for p in graph.predecessors(name):
        syn = graph.nodes[p]
        if graph.is_recurrent(p) or len(graph.successors(p)) != 1:
            continue
        if isinstance(syn, (nir.Linear, nir.Affine)):
            return p
        if isinstance(syn, nir.Conv2d):
            per_channel = node.bias.reshape(int(np.asarray(syn.weight).shape[0]), -1)
            if np.all(per_channel == per_channel[:, :1]):
                return p
    return None


def _with_bias(syn: Any, bias: np.ndarray) -> Any:
    """``syn`` adding ``bias`` (per neuron) to what it delivers: a Linear becomes an Affine."""
    meta = dict(syn.metadata)
    if isinstance(syn, nir.Conv2d):
        per_channel = bias.reshape(int(np.asarray(syn.weight).shape[0]), -1)[:, 0]
        return nir.Conv2d(input_shape=syn.input_shape, weight=syn.weight, stride=syn.stride, padding=syn.padding,
                          dilation=syn.dilation, groups=syn.groups, bias=np.asarray(syn.bias) + per_channel,
                          metadata=meta)
    old = np.asarray(getattr(syn, "bias", np.zeros(bias.shape)), np.float64)
    return nir.Affine(weight=np.asarray(syn.weight), bias=old + bias, metadata=meta)


def _flattened_edges(graph: Graph, shapes: dict[str, tuple[int, ...]], nodes: dict[str, Any]) -> list[tuple[str, str]]:
    """The graph's edges, with a nir.Flatten where a (C, H, W) map meets a flat reader (new nodes go into
    ``nodes``); a flat output read as a map is refused (NIR has no Unflatten)."""
    edges = []
    for a, b in graph.edges:
        reader = graph.nodes[b]
        if isinstance(reader, nir.Output):
            edges.append((a, b))
        elif isinstance(reader, nir.Conv2d):
            if shapes[a] != nir_geometry(reader).in_shape:
                raise UnsupportedLayerError(f"standard NIR cannot say a flat layer output read by a Conv2d: "
                                            f"'{a}' gives {shapes[a]}, NIR has no Unflatten or Reshape node", layer=b)
            edges.append((a, b))
        elif len(shapes[a]) > 1 and not (isinstance(reader, FloatNeuron) and shapes[b] == shapes[a]):
            flat = f"{a}__flatten"
            if flat not in nodes:
                nodes[flat] = nir.Flatten(input_type={"input": np.array(shapes[a])}, start_dim=0, end_dim=-1)
                edges.append((a, flat))
            edges.append((flat, b))
        else:
            edges.append((a, b))
    return edges
