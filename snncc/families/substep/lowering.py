"""The sub-step lowering of multi-level neurons for targets without graded spikes.

Each input step becomes ``S = max(levels)`` steps of the target (sub-steps); every multi-level layer becomes a
``QSubStepMultiLevel`` that sends its payload ``z`` as ``z`` binary spikes over the ``S`` sub-steps of a period, and
its consumers sum what arrives during a period and update once, at the period's boundary. Between boundaries
nothing decays, so the lowering is **exact, leak included**: the boundary update sees exactly the graded payloads'
input. Each synapse keeps its integer mantissas and hands its exponent to the consumer (``input_exp``), which
applies it to the period's exact sum: per-delivery flooring of ``S`` partial sums would differ from flooring once.

Timing: a layer ``d`` synapses deep updates input step ``t`` at sub-step ``(t + d) * S`` (its last input spike of
step ``t`` arrives exactly then), so a layer costs ``S`` sub-steps of latency, and the network ``S`` times the time
steps, against the population lowering's ``levels`` times the neurons.

What it needs: every neuron layer of the graph is multi-level (the sub-step clock is global; a binary layer would
fire on partial sums), the network is a feed-forward chain (no recurrent or skip synapses), the input is binary,
and every synapse into a layer has the same exponent. Anything else is an error naming the layer.
"""

from __future__ import annotations

import nir

from snncc.errors import UnsupportedLayerError
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.families.substep.nodes import QSubStepMultiLevel
from snncc.ir import Graph, QConv, QDense

HINT = "use the population lowering (--multilevel population)"
CONV_HINT = "compile convolutional multi-level networks for a target with graded spikes (e.g. loihi2)"


def to_substeps(g: Graph) -> dict[str, dict]:
    """Rewrite ``g`` in place onto the sub-step clock; returns a lowering note per multi-level layer."""
    for name, node in g.nodes.items():
        if isinstance(node, QConv):
            raise UnsupportedLayerError("the sub-step lowering handles dense synapses only; this one is a convolution",
                                        layer=name, hint=CONV_HINT)
    layers = [n for n in g.topological_order() if not isinstance(g.nodes[n], (nir.Input, nir.Output, QDense))]
    for name in layers:
        if not isinstance(g.nodes[name], QMultiLevel):
            raise UnsupportedLayerError(
                f"the sub-step clock needs every neuron layer to be multi-level; this one is "
                f"{type(g.nodes[name]).__name__}", layer=name, hint=HINT)
    depth = g.synapse_depth()
    for name, node in g.nodes.items():
        if not isinstance(node, QDense):
            continue
        src, dst = g.predecessors(name)[0], g.successors(name)
        if g.is_recurrent(name) or any(depth[t] != depth[src] + 1 for t in dst):
            raise UnsupportedLayerError("the sub-step lowering handles feed-forward chains only (this synapse is "
                                        "recurrent or skips a layer)", layer=name, hint=HINT)
    substeps = max((g.nodes[n].levels for n in layers), default=1)
    notes = {}
    for name in layers:
        node: QMultiLevel = g.nodes[name]
        synapses = g.predecessors(name)
        exps = {g.nodes[s].weight_exp for s in synapses}
        if len(exps) != 1:
            raise UnsupportedLayerError(f"its synapses have different weight exponents {sorted(exps)}; the "
                                        "sub-step neuron applies one", layer=name, hint=HINT)
        for s in synapses:
            syn = g.nodes[s]
            g.nodes[s] = QDense(weight=syn.weight, weight_exp=0, graded=False, metadata=dict(syn.metadata))
        g.nodes[name] = QSubStepMultiLevel(du=node.du, dv=node.dv, bias_mant=node.bias_mant, bias_exp=node.bias_exp,
                                           theta_exp=node.theta_exp, offset=node.offset, levels=node.levels,
                                           substeps=substeps, input_exp=exps.pop(), metadata=dict(node.metadata))
        notes[name] = {"from": "multi-level (graded)", "to": f"binary bursts over {substeps} sub-steps per step",
                       "exact": True, "neurons": int(node.bias_mant.shape[0]),
                       "neurons_before": int(node.bias_mant.shape[0]), "timestep_factor": substeps,
                       "latency_substeps": substeps}
    return notes
