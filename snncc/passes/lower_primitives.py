"""lower-primitives: map integer neuron nodes onto the primitives the target declares.

* A graded multi-level layer (``QMultiLevel``) stays as it is where the target has ``multilevel_graded``. On a
  target without graded spikes it becomes a **population** of ``levels`` binary soft-reset IF neurons per neuron,
  with all-to-all lateral inhibition of one quantum inside each group (a recurrent synapse, one step late):

  - member ``r`` of neuron ``i`` starts every sample at ``offset + 1 - r * 2**k`` (the +1 turns Loihi's strict
    ``v > vth`` into the ``>=`` of the floor) and fires at ``vth << 6 = 2**k``;
  - it receives neuron ``i``'s input weights and bias, and projects with neuron ``i``'s output weights, so the
    consumers receive ``sum_r s_r = z`` times the weight: the same current as from the graded payload;
  - its own soft reset subtracts its spike at once, the lateral synapse the others' spikes one step later, so
    before step t's update every member has subtracted ``2**k`` times the group's spikes up to t-1 — exactly the
    multi-level neuron's residual. **Exact without leak** (``dv = 0``); with a leak each member's offset decays
    and truncates on its own, so it is approximate (the compile report measures it).

  Cost: ``levels`` x the neurons and their input and output synapses, plus ``levels (levels - 1)`` lateral
  synapses per neuron, binary spikes, the same number of time steps.

  With ``multilevel = "substep"`` it is instead lowered onto a sub-step clock (:mod:`.lower_substeps`): the same
  neurons and synapses, binary bursts, ``levels`` x the time steps, exact with leak too.
* Every other node needs its primitive declared by the target (``arlif``, ``lif_soft_reset``/``lif_custom`` for
  soft reset, floors and initial voltages, ``graded_input`` for direct-encoded input); a missing one is an error
  naming the layer and the primitive.

Each rewrite goes to ``ctx.notes['lowering']`` with its exactness and cost.
"""

from __future__ import annotations

import nir
import numpy as np

from ..errors import GraphError, UnsupportedLayerError
from ..ir import QARLIF, QLIF, Graph, InputEncoding, QConv, QDense, QMultiLevel, QSubStepMultiLevel
from ..ir.graph import RECURRENT_KEY
from .base import Pass, PassContext
from .lower_substeps import to_substeps

MULTILEVEL_MODES = ("population", "substep")
POPULATION_KEY = "snncc.population"  # {"neurons": n, "members": N}: member r of neuron i is neuron i * N + r


def required_primitive(graph: Graph, name: str) -> str | None:
    """The target primitive an integer node needs (None for the graph's boundary nodes)."""
    node = graph.nodes[name]
    if isinstance(node, QDense):
        return "dense"
    if isinstance(node, QMultiLevel):
        return "multilevel_graded"
    if isinstance(node, QSubStepMultiLevel):
        return "multilevel_substep"
    if isinstance(node, QARLIF):
        return "arlif"
    if isinstance(node, QLIF):
        # a layer whose spikes a lateral synapse carries into the next step must send only inside its window,
        # which needs snncc's custom process (see docs/semantics.md, Timing)
        if node.stock and not any(graph.is_recurrent(s) for s in graph.successors(name)):
            return "lif_hard_reset"
        return "lif_soft_reset" if node.v_min is None and not np.any(node.v_init) else "lif_custom"
    return None


class LowerPrimitives(Pass):
    name = "lower-primitives"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get("quantized"):
            raise GraphError("lower-primitives needs a quantized graph (run quantize first)")
        if ctx.options.get("multilevel", "population") not in MULTILEVEL_MODES:
            raise GraphError(f"multilevel lowering must be one of {MULTILEVEL_MODES}, "
                             f"got {ctx.options.get('multilevel')!r}")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        prims = ctx.target.primitives
        notes = ctx.notes.setdefault("lowering", {})
        if InputEncoding.from_metadata(g.metadata).graded and "graded_input" not in prims:
            raise UnsupportedLayerError(
                f"target '{ctx.target.name}' has no graded spikes, but the model's input is direct-encoded "
                "(GradedInput)", layer=g.input_names[0], hint="train with spike-encoded input for this target")
        graded_ok = "multilevel_graded" in prims
        if not graded_ok and ctx.options.get("multilevel") == "substep" and any(g.of_type(QMultiLevel)):
            notes.update(to_substeps(g))
        for name in g.topological_order():
            if isinstance(g.nodes[name], QMultiLevel) and not graded_ok:
                notes[name] = _to_population(g, name)
        for name in g.topological_order():
            prim = required_primitive(g, name)
            if prim is not None and prim not in prims:
                hint = "compile AR-LIF with --arlif stock" if prim == "arlif" else None
                raise UnsupportedLayerError(f"needs the '{prim}' primitive, which target '{ctx.target.name}' does "
                                            "not declare", layer=name, hint=hint)
        return g


def _to_population(g: Graph, name: str) -> dict:
    node: QMultiLevel = g.nodes[name]
    n, members, k = node.bias_mant.shape[0], node.levels, node.theta_exp
    if k < 6:
        raise UnsupportedLayerError(f"quantum 2**{k} is below one weight unit (2**6); a binary population cannot "
                                    "represent it", layer=name)
    for s in (*g.predecessors(name), *g.successors(name)):
        if isinstance(g.nodes[s], QConv):
            raise UnsupportedLayerError(
                f"the population lowering of a multi-level layer connected by a convolution ('{s}') is not "
                "implemented", layer=name,
                hint="compile for a target with graded spikes (e.g. loihi2), or keep multi-level layers between "
                     "Linear layers for this target")
    idx = np.repeat(np.arange(n), members)  # population neuron -> original neuron
    rank = np.tile(np.arange(members), n)  # member index r
    v_init = node.offset + 1 - rank * (1 << k)
    g.nodes[name] = QLIF(du=node.du, dv=node.dv, vth=1 << (k - 6), bias_mant=node.bias_mant[idx],
                         bias_exp=node.bias_exp[idx], reset="subtract", v_init=v_init,
                         metadata={**node.metadata, POPULATION_KEY: {"neurons": n, "members": members}})
    for s in g.predecessors(name):
        syn = g.nodes[s]
        g.nodes[s] = QDense(weight=syn.weight[idx], weight_exp=syn.weight_exp, graded=syn.graded,
                            metadata=dict(syn.metadata))
    for s in g.successors(name):
        syn = g.nodes[s]
        if isinstance(syn, QDense):
            g.nodes[s] = QDense(weight=syn.weight[:, idx], weight_exp=syn.weight_exp, graded=False,
                                metadata=dict(syn.metadata))
        elif isinstance(syn, nir.Output):  # the graph's output is now the members' spikes, summed per group
            g.nodes[s] = nir.Output(output_type={"output": np.array([n * members])},
                                    metadata={**syn.metadata, POPULATION_KEY: {"neurons": n, "members": members}})
    # lateral inhibition of one quantum (2**k v-units = 2**(k-6) weight units) between the members of a group
    lateral_exp = max(k - 6 - 6, 0)
    mantissa = -(1 << (k - 6 - lateral_exp))
    same_group = idx[:, None] == idx[None, :]
    w_lat = np.where(same_group & ~np.eye(n * members, dtype=bool), mantissa, 0)
    lat = f"{name}__lateral"
    g.nodes[lat] = QDense(weight=w_lat, weight_exp=lateral_exp, graded=False,
                          metadata={RECURRENT_KEY: True, "snncc.source": f"lateral inhibition of {name}"})
    g.edges += [(name, lat), (lat, name)]
    exact = node.dv == 0
    return {"from": "multi-level (graded)", "to": f"population of {members} binary soft-reset neurons",
            "exact": exact, "neurons": n * members, "neurons_before": n,
            "lateral_synapses": int(n * members * (members - 1)),
            "note": None if exact else "leak applies to each member's offset separately: approximate"}
