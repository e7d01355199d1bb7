"""Operation counts in NeuroBench 2.x's conventions, so that snncc's figures compare with published NeuroBench ones.

What the ``neurobench`` package (2.3.0, ``neurobench/metrics/workload``) computes, and what snncc mirrors:

* ``SynapticOperations``: for every call of a connection layer (Linear, Conv; one call per time step of a batch),
  the layer re-run on binarised inputs and weights with its bias zeroed: ``Effective`` = non-zero input x non-zero
  weight pairs, ``Dense`` = every input x every weight (all-ones input and kernel, so a convolution's padding adds
  nothing). A call whose inputs all lie in {-1, 0, 1} counts its operations as ACs, any other as MACs. Every sum is
  divided by the samples run (``Effective_ACs``, ``Effective_MACs``, ``Dense``).
* ``MembraneUpdates``: per spiking layer, every neuron in the first call of a batch, then in each call the neurons
  whose membrane potential differs from the one the call started with; summed and divided by the samples.

snncc counts these per deployed synapse and neuron layer (:func:`snncc.backends.reference.trace.count_operations`):
a call is one sample's input step (NeuroBench classes a whole batch's call AC or MAC; per sample is its figure at
batch size 1), and a payload ``z`` is one operation per non-zero weight whatever its size. The counts agree with
NeuroBench's on the source network where the deployed network keeps its layers and weights: a weight that
quantizes to zero, a lowering that adds layers (split fan-in's relays, populations) or pooling folded into a
synapse changes them, as it changes what the chip does. Membrane updates compare the stored ``v``: snnTorch keeps a
spiking neuron's pre-reset potential until its next step, as snncc's ``subtract_after_leak`` reset does, while a
zero or subtract reset stores the reset value at once, so those layers count differently by construction.
"""

from __future__ import annotations

from typing import Any

from ..ir import Graph, IntegerNeuron, IntegerSynapse

CONVENTION = ("NeuroBench 2.x SynapticOperations and MembraneUpdates (neurobench 2.3.0), per sample; one layer call "
              "per input step")


def neurobench_counts(graph: Graph, counts: dict[str, Any], samples: int) -> dict[str, Any]:
    """Per layer and in total, per sample: NeuroBench's effective ACs and MACs, dense operations and membrane
    updates (None where the run recorded no states). Totals are summed in integers and divided once, as NeuroBench
    divides its sums, so that equal counts give equal figures."""
    synapses = [c for n, c in counts.items() if isinstance(graph.nodes.get(n), IntegerSynapse)]
    neurons = {n: c for n, c in counts.items() if isinstance(graph.nodes.get(n), IntegerNeuron)}
    membrane = [c.membrane_updates for c in neurons.values()]
    layers: dict[str, dict[str, float | None]] = {
        n: {"effective_ac": c.nb_effective_ac / samples, "effective_mac": c.nb_effective_mac / samples,
            "dense": c.nb_dense / samples} for n, c in counts.items() if isinstance(graph.nodes.get(n), IntegerSynapse)}
    layers.update({n: {"membrane_updates": None if c.membrane_updates is None else c.membrane_updates / samples}
                   for n, c in neurons.items()})
    return {
        "convention": CONVENTION,
        "Effective_ACs": sum(c.nb_effective_ac for c in synapses) / samples,
        "Effective_MACs": sum(c.nb_effective_mac for c in synapses) / samples,
        "Dense": sum(c.nb_dense for c in synapses) / samples,
        "MembraneUpdates": None if None in membrane else sum(membrane) / samples,
        "layers": {n: layers[n] for n in graph.nodes if n in layers},
    }
