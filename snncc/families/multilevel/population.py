"""The population primitive: a graded multi-level layer as ``levels`` binary soft-reset neurons per neuron.

For a target without graded spikes. Member ``r`` of neuron ``i`` (population neuron ``i * levels + r``):

- starts every sample at ``offset + 1 - r * 2**k`` (the +1 turns Loihi's strict ``v > vth`` into the ``>=`` of the
  floor) and fires at ``vth << 6 = 2**k``;
- receives neuron ``i``'s input weights and bias, and projects with neuron ``i``'s output weights, so the consumers
  receive ``sum_r s_r = z`` times the weight: the same current as from the graded payload;
- its own soft reset subtracts its spike at once, an all-to-all lateral inhibition of one quantum inside each group
  (a recurrent synapse, one step late) the others' spikes one step later, so before step t's update every member
  has subtracted ``2**k`` times the group's spikes up to t-1: exactly the multi-level neuron's residual.

**Exact without leak** (``dv = 0``); with a leak each member's offset decays and truncates on its own, so it is
approximate (the compile report measures it). Cost: ``levels`` x the neurons and their input and output synapses,
plus ``levels (levels - 1)`` lateral synapses per neuron, binary spikes, the same number of time steps. A layer so
expanded carries ``keys.POPULATION`` (``{"neurons": n, "members": N}``); :func:`snncc.fidelity.logical_spikes` sums
its members back into what its consumers receive.
"""

from __future__ import annotations

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import UnsupportedLayerError
from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QConv, QDense, keys

LATERAL_MANTISSA_BITS = 6  # the lateral weight is -2**j * 2**e with j <= 6: it fits every weight format of 8 bits


def to_population(g: Graph, name: str, fmt: fx.NeuronFormat) -> dict:
    """Rewrite graded layer ``name`` (a ``QMultiLevel``) into its binary population, in place; returns the lowering
    note."""
    node = g.nodes[name]
    n, members, k = node.bias_mant.shape[0], node.levels, node.theta_exp
    shift = fmt.act_shift
    if k < shift:
        raise UnsupportedLayerError(f"quantum 2**{k} is below one weight unit (2**{shift}); a binary population "
                                    "cannot represent it", layer=name)
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
    population = {"neurons": n, "members": members}
    g.nodes[name] = QLIF(du=node.du, dv=node.dv, vth=1 << (k - shift), bias_mant=node.bias_mant[idx],
                         bias_exp=node.bias_exp[idx], reset="subtract", v_init=v_init,
                         metadata={**node.metadata, keys.POPULATION: population})
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
                                    metadata={**syn.metadata, keys.POPULATION: dict(population)})
    # lateral inhibition of one quantum (2**k v-units = 2**(k - shift) weight units) between a group's members
    lateral_exp = max(k - shift - LATERAL_MANTISSA_BITS, 0)
    mantissa = -(1 << (k - shift - lateral_exp))
    same_group = idx[:, None] == idx[None, :]
    w_lat = np.where(same_group & ~np.eye(n * members, dtype=bool), mantissa, 0)
    lat = f"{name}__lateral"
    g.nodes[lat] = QDense(weight=w_lat, weight_exp=lateral_exp, graded=False,
                          metadata={keys.RECURRENT: True, keys.SOURCE: f"lateral inhibition of {name}"})
    g.edges += [(name, lat), (lat, name)]
    exact = node.dv == 0
    return {"from": "multi-level (graded)", "to": f"population of {members} binary soft-reset neurons",
            "exact": exact, "neurons": n * members, "neurons_before": n,
            "lateral_synapses": int(n * members * (members - 1)),
            "note": None if exact else "leak applies to each member's offset separately: approximate"}

