"""NIR's LIF, IF and CubaLIF sending several spikes a step (Sinabs's MultiSpike, Rockpool's ``max_spikes_per_dt``)
-> the multi-level float neuron: ``z = min(floor(v / threshold), max_spikes)`` spikes, ``v -= z threshold``.

The step is the LIF family's (the same decays, gains and biases from the graph's semantics); only the spike and
the reset differ, so such a layer must subtract its threshold and fire at ``v = threshold`` (``floor(v/thr) >= 1``).
"""

from __future__ import annotations

from typing import Any

from snncc.errors import GraphError
from snncc.families.lif.nir import from_nir as binary_from_nir
from snncc.families.multilevel.nodes import MultiLevelNeuron
from snncc.ir.semantics import NeuronSemantics


def from_nir(node: Any, sem: NeuronSemantics, name: str) -> MultiLevelNeuron:
    if sem.reset != "subtract" or not sem.fire_at_threshold:
        raise GraphError(f"a neuron sending up to {sem.max_spikes} spikes a step subtracts its threshold once per "
                         f"spike and fires at v = threshold; the graph's semantics say reset={sem.reset}, "
                         f"fire_at_threshold={sem.fire_at_threshold}", layer=name,
                         hint="--reset subtract --threshold ge, or --max-spikes 1")
    lif = binary_from_nir(node, sem, name)
    return MultiLevelNeuron(decay_v=lif.decay_v, decay_i=lif.decay_i, threshold=lif.threshold, bias=lif.bias,
                            offset=0.0, out_scale=1.0, levels=sem.max_spikes, metadata=lif.metadata)
