"""canonicalize: bring any imported graph to one normal form the later passes can rely on.

After it, the graph holds only ``nir.Input``, ``nir.Linear`` and ``nir.Conv2d`` (no bias), float neuron nodes and
``nir.Output``; the input feeds synapses, every synapse has one source and feeds exactly one neuron layer, and
neurons feed synapses or outputs. On the way it

* turns average/sum pooling into a depthwise convolution, and fuses a pooling whose stride is its kernel into the
  convolution or Linear it feeds (a pooled conv is one conv with an upsampled kernel, so pooling costs no extra
  synapse layer, step or neuron); where the fused layer's fan-in would exceed a core's input axons (a global
  pooling before a classifier) and the target has graded spikes, a pooling of binary spikes becomes a sum into
  graded relay neurons instead (exact);
* splits a synapse fed by several spike sources (SEW-style spike addition, ``conv(s1 + s2)``) into one copy per
  source, and gives a neuron output added straight to a current (an identity shortcut) an identity synapse;

* discretises NIR's continuous neurons with the graph's ``dt`` and reset (each by its family's rule) and records
  their input gain,
* removes ``Flatten`` (fully connected graphs are 1-D), merges chains of synapses into one,
* moves synapse biases into the neuron bias (where the layer can take one exactly, else an error), folds the input
  gains and the graded input's scale into the weights, and lets each family rewrite its layers into canonical form
  (``Family.canonicalize``: a graded layer's output scale folded into the synapses it feeds).
"""

from __future__ import annotations

import copy

import nir
import numpy as np

from ..conv import nir_geometry
from ..errors import GraphError, UnsupportedLayerError
from ..families import REGISTRY
from ..families.relay import graded_relays
from ..ir import FloatNeuron, Graph, InputEncoding, keys
from ..ir.semantics import FIELDS, FLAGS, METADATA_KEYS, NeuronSemantics
from ..ir.synapses import FLOAT_SYNAPSES, as_affine, identity_synapse, with_weight
from .base import Pass, PassContext
from .pooling import POOLS, fuse_pools, is_pool, pools_to_conv, rewire_out

SYNAPSES = (nir.Affine, nir.Linear)  # dense synapses (chains of them merge into one)
STRUCTURE = (nir.Input, nir.Output, nir.Flatten, *FLOAT_SYNAPSES, *POOLS)  # what canonicalize rewrites


class Canonicalize(Pass):
    name = "canonicalize"
    level = "float"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, (*STRUCTURE, FloatNeuron)) and not REGISTRY.is_nir_neuron(node):
                raise UnsupportedLayerError(f"node type {type(node).__name__} cannot be compiled yet", layer=name)
            if isinstance(node, nir.Conv2d):
                try:
                    nir_geometry(node)
                except ValueError as exc:
                    raise UnsupportedLayerError(f"convolution geometry: {exc}", layer=name) from None
            if REGISTRY.is_nir_neuron(node):
                missing = [FLAGS[f] for f in FIELDS if METADATA_KEYS[f] not in graph.metadata]
                if missing:
                    raise GraphError("continuous-time NIR neuron but the graph does not state how it steps",
                                     layer=name, hint="pass --from <library> or " + ", ".join(missing))

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        _remove_flatten(g)
        _discretize(g)
        pools_to_conv(g)
        _split_shared_synapses(g, pools_only=True)  # a pooling read by two synapses is fused into each
        axons = ctx.target.figures.get("core_limits", {}).get("input_axons")
        relay = axons is not None and graded_relays(ctx.target)  # the relays send counts as graded spikes
        relays = fuse_pools(g, int(axons.value) if relay else None)
        ctx.notes["canonicalize"] = {"pool_relays": relays}
        _merge_synapse_chains(g)
        _identity_synapses(g)
        _split_multi_source_synapses(g)
        _merge_synapse_chains(g)  # a Linear whose sum with a shortcut feeds an affine (NASN's norm) is now a chain
        _split_shared_synapses(g)
        _fold_biases_and_gains(g)
        for name, node in list(g.nodes.items()):  # the families' own rewrites (output scales...)
            if isinstance(node, FloatNeuron):
                REGISTRY.of(node, name).canonicalize(g, name)
        _fold_input_scale(g)
        g.metadata[keys.CANONICAL] = True
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph, balanced=False)  # paths of unequal depth are the balance-latency pass's job


def check_canonical(g: Graph, balanced: bool = True) -> None:
    """Raise UnsupportedLayerError/GraphError unless ``g`` is in canonical form (see module docstring) and, with
    ``balanced``, every neuron layer's inputs arrive through paths of equal synaptic depth."""
    depth = g.synapse_depth()
    for name, node in g.nodes.items():
        preds, succs = g.predecessors(name), g.successors(name)
        if isinstance(node, (nir.Linear, nir.Conv2d)):
            if len(preds) != 1:
                raise GraphError("a synapse with several sources left after canonicalize", layer=name)
            if isinstance(g.nodes[preds[0]], (nir.Linear, nir.Conv2d)):
                raise UnsupportedLayerError("two synapse layers in a row (e.g. a pooling that is not fused into the "
                                            "next layer) cannot be deployed", layer=name,
                                            hint="use pooling with stride == kernel and no padding before a conv or "
                                                 "Linear (before a padded conv: a map the kernel divides), or put a "
                                                 "neuron layer in between")
            if len(succs) != 1 or not isinstance(g.nodes[succs[0]], (FloatNeuron, nir.Linear, nir.Conv2d)):
                raise UnsupportedLayerError("a synapse layer must feed exactly one neuron layer; end the model "
                                            "with a spiking neuron layer (non-spiking readouts are not supported "
                                            "yet)", layer=name)
        elif isinstance(node, FloatNeuron):
            if not preds or not all(isinstance(g.nodes[p], (nir.Linear, nir.Conv2d)) for p in preds):
                raise UnsupportedLayerError("a neuron layer must be fed by synapse layers (nn.Linear, nn.Conv2d)",
                                            layer=name)
            depths = {depth[p] for p in preds if not g.is_recurrent(p)}  # loops: balance_latency.check_loops
            if balanced and len(depths) > 1:
                raise UnsupportedLayerError(
                    f"paths of different synaptic depth ({sorted(depths)}) meet here; on the chip each synapse "
                    "layer adds one step, so the float model and the deployed network would disagree",
                    layer=name, hint="run the balance-latency pass (the default pipeline does)")
        elif isinstance(node, nir.Input):
            if not all(isinstance(g.nodes[s], (nir.Linear, nir.Conv2d)) for s in succs):
                raise UnsupportedLayerError("the input must feed synapse layers (nn.Linear, nn.Conv2d)", layer=name)
        elif isinstance(node, nir.Output):
            if not isinstance(g.nodes[preds[0]], FloatNeuron):
                raise UnsupportedLayerError("the output must come from a spiking neuron layer", layer=name)
        else:
            raise GraphError(f"node type {type(node).__name__} left after canonicalize", layer=name)


def _remove_flatten(g: Graph) -> None:
    for name in [n for n, v in g.nodes.items() if isinstance(v, nir.Flatten)]:
        for p in g.predecessors(name):
            node = g.nodes[p]
            if isinstance(node, nir.Input):
                flat = int(np.prod(node.input_type["input"]))
                g.nodes[p] = nir.Input(input_type={"input": np.array([flat])}, metadata=node.metadata)
        rewire_out(g, name)


def _discretize(g: Graph) -> None:
    """Continuous-time NIR neurons -> their family's discrete-time float nodes, by the graph's semantics."""
    if not any(REGISTRY.is_nir_neuron(node) for node in g.nodes.values()):
        return
    sem = NeuronSemantics.of(g.metadata)
    for name, node in list(g.nodes.items()):
        if REGISTRY.is_nir_neuron(node):
            g.nodes[name] = REGISTRY.nir_family(node, sem.max_spikes, name).from_nir(node, sem, name)


def _identity_synapses(g: Graph) -> None:
    """A neuron output added straight to a neuron's input current (an identity shortcut) gets an identity synapse."""
    for name, node in list(g.nodes.items()):
        if not isinstance(node, FloatNeuron):
            continue
        for p in g.predecessors(name):
            if not isinstance(g.nodes[p], FloatNeuron):
                continue
            ident = f"{p}__to__{name}"
            g.nodes[ident] = identity_synapse(g.nodes[p].size, {keys.SOURCE: f"identity shortcut {p} -> {name}"})
            g.edges = [e for e in g.edges if e != (p, name)] + [(p, ident), (ident, name)]


def _split_multi_source_synapses(g: Graph) -> None:
    """``W (s1 + s2) + b = (W s1 + b) + W s2``: one copy of the synapse per source (SEW spike addition), same
    consumer; the bias stays with the first copy only (every copy's bias reaches the consumer, so copying it would
    add it once per source)."""
    for name, node in list(g.nodes.items()):
        preds = g.predecessors(name)
        if not isinstance(node, FLOAT_SYNAPSES) or len(preds) <= 1:
            continue
        succs = g.successors(name)
        for p in preds[1:]:
            copy_name = f"{name}__from__{p}"
            g.nodes[copy_name] = with_weight(node, np.asarray(node.weight, np.float64))
            g.edges = [e for e in g.edges if e != (p, name)]
            g.edges += [(p, copy_name)] + [(copy_name, s) for s in succs]


def _merge_synapse_chains(g: Graph) -> None:
    changed = True
    while changed:
        changed = False
        for name, node in list(g.nodes.items()):
            succs = g.successors(name)
            if not isinstance(node, SYNAPSES) or len(succs) != 1:
                continue
            nxt = succs[0]
            if not isinstance(g.nodes[nxt], SYNAPSES) or len(g.predecessors(nxt)) != 1:
                continue
            w1, b1 = as_affine(node)
            w2, b2 = as_affine(g.nodes[nxt])
            merged = nir.Affine(weight=w2 @ w1, bias=w2 @ b1 + b2, metadata=dict(g.nodes[nxt].metadata))
            merged.metadata[keys.MERGED] = f"{name} + {nxt}"
            g.nodes[nxt] = merged
            rewire_out(g, name)
            changed = True
            break


def _split_shared_synapses(g: Graph, pools_only: bool = False) -> None:
    """Give every synapse (or, with ``pools_only``, every pooling) exactly one consumer: each neuron layer quantizes
    its inputs at its own scale, and each synapse after a pooling can absorb its own copy of it."""
    for name, node in list(g.nodes.items()):
        succs = g.successors(name)
        if not isinstance(node, FLOAT_SYNAPSES) or len(succs) <= 1:
            continue
        if pools_only and not is_pool(node):
            continue
        preds = g.predecessors(name)
        for s in succs[1:]:
            copy_name = f"{name}__{s}"
            g.nodes[copy_name] = copy.deepcopy(node)
            g.edges = [e for e in g.edges if e != (name, s)]
            g.edges += [(p, copy_name) for p in preds] + [(copy_name, s)]


def _fold_biases_and_gains(g: Graph) -> None:
    for name, node in list(g.nodes.items()):
        if not isinstance(node, FLOAT_SYNAPSES):
            continue
        (consumer,) = g.successors(name) or [None]
        target = g.nodes.get(consumer)
        w, b = as_affine(node)
        if isinstance(target, FloatNeuron):
            gain = np.asarray(target.metadata.get(keys.INPUT_GAIN, np.ones(target.size)), np.float64)
            if isinstance(node, nir.Conv2d):  # per channel: the kernel can only carry a per-channel gain
                positions = gain.size // w.shape[0]
                per_channel = gain.reshape(w.shape[0], positions)
                if np.any(per_channel != per_channel[:, :1]):
                    raise UnsupportedLayerError("a convolution must feed neurons with one input gain per channel",
                                                layer=name)
                w = w * per_channel[:, 0].reshape(-1, 1, 1, 1)
                b = np.repeat(b * per_channel[:, 0], positions)
            else:
                w = w * gain[:, None]
                b = b * gain
            if np.any(b != 0):
                try:
                    target.fold_synapse_bias(b)
                except ValueError as exc:
                    raise UnsupportedLayerError(str(exc), layer=name, hint="use bias=False or current_decay=0") \
                        from None
        elif np.any(b != 0):
            raise UnsupportedLayerError("a synapse bias must feed a neuron layer", layer=name)
        g.nodes[name] = with_weight(node, w)
    for node in g.nodes.values():
        if isinstance(node, FloatNeuron):
            node.metadata.pop(keys.INPUT_GAIN, None)


def _fold_input_scale(g: Graph) -> None:
    enc = InputEncoding.from_metadata(g.metadata)
    if enc.scale == 1.0 or g.metadata.get(keys.INPUT, {}).get("scale_folded"):
        return
    for s in g.successors(g.input_names[0]):
        node = g.nodes[s]
        g.nodes[s] = with_weight(node, np.asarray(node.weight, np.float64) * enc.scale)
    g.metadata[keys.INPUT] = {**enc.to_dict(), "scale_folded": True}
