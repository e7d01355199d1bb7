"""Energy and time per inference from measured operation counts and the target's per-operation model.

Three views side by side, never mixed:

* the **target model**: ``E = synops*E_syn + active*E_nu + inactive*E_nu_idle + messages*E_local
  + hops_ew*E_hop + hops_ns*E_hop_ns + chip_hops*E_chip + static_power_per_chip * chips * time``, every constant
  printed with its source and status; a target whose figures give low-high bands (Loihi 2: nobody has published
  its per-operation energy) gets the same model at both ends of every band (``target_model.band``);
* the **SNN-paper convention**, labelled "45 nm arithmetic only": binary synaptic events are accumulates (0.9 pJ),
  graded ones multiply-accumulates (4.6 pJ); and an ANN of the same topology for comparison (one MAC per weight);
* **NeuroBench**'s operation counts (:mod:`.neurobench`), which carry no energy.

Spike messages: a neuron's spike is one message to each core that holds a consumer block (once per core, however
many of its groups read it); hops are the Manhattan distance on the chip's mesh (different chips count one chip
hop each; a hop along a mesh row is east-west, along a column north-south). Static power is paid by the chips
the placement uses (``target_model.chips``), not by every chip of the target's board (``chips_available``,
``system.chips``). Every neuron is updated every step; the active / inactive split comes from recorded states
(:func:`snncc.backends.reference.trace.count_operations`); a layer without it is charged as active throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..conv import fan_out
from ..ir import Graph, IntegerNeuron, IntegerSynapse, QConv, layer_size
from ..mapping import Core, Mapping
from ..mapping.layers import reads_by_core
from ..target import Target
from .neurobench import neurobench_counts

PJ = 1e-12
PAPER_LABEL = "45 nm arithmetic only"  # what the SNN-paper convention's 0.9 / 4.6 pJ price: no memory, no routing
ENDS = ("low", "high")


def traffic(graph: Graph, spikes_per_neuron: dict[str, np.ndarray],
            mapping: Mapping | None = None) -> dict[str, dict[str, int]]:
    """Spike messages, on-chip hops and chip hops per source layer, from per-neuron spike counts; of the
    messages, ``recurrent_messages`` are those a recurrent synapse carries back (a loop's traffic), and each is
    counted as staying within its core, crossing cores on one chip, or crossing chips.

    A spike of a neuron in block ``b`` travels from ``b``'s core to every consumer block that reads that neuron: all
    blocks of a dense consumer, only the tiles whose receptive field holds it for a convolution. Per consumer block
    one ``bincount`` gives the spikes it receives from each source block (linear in the neurons, not in the product
    of the two layers' blocks: ResNet-18 has thousands of blocks per layer).
    """
    out = {}
    mapping = mapping or Mapping.of(graph)
    for name, node in graph.nodes.items():
        if not isinstance(node, IntegerNeuron):
            continue
        counts = np.asarray(spikes_per_neuron[name], np.int64)
        blocks = mapping.layers[name].blocks
        place = np.asarray([[c.chip, c.core, c.row, c.col] for c in mapping.layers[name].cores],
                           np.int64).reshape(-1, 4)  # chip, core, row, col per block
        owner = np.empty(counts.size, np.int64)  # the source block of every neuron
        for i, b in enumerate(blocks):
            owner[b.index()] = i
        every = np.bincount(owner, weights=counts, minlength=len(blocks))
        msgs = hops_ew = hops_ns = chip_hops = rec_msgs = local = between_chips = 0
        for core, (idx, loop) in _destination_cores(graph, name, mapping).items():
            sent = every if idx is None else np.bincount(owner[idx], weights=counts[idx], minlength=len(blocks))
            sent = np.rint(sent).astype(np.int64)  # exact: float64 sums of counts far below 2**53
            same = place[:, 0] == core.chip
            msgs += int(sent.sum())
            rec_msgs += int(sent.sum()) if loop else 0
            local += int(sent[same & (place[:, 1] == core.core)].sum())
            between_chips += int(sent[~same].sum())
            hops_ns += int((sent * np.abs(core.row - place[:, 2]))[same].sum())
            hops_ew += int((sent * np.abs(core.col - place[:, 3]))[same].sum())
            chip_hops += int((sent * np.abs(core.chip - place[:, 0]))[~same].sum())
        out[name] = {"messages": msgs, "recurrent_messages": rec_msgs, "messages_within_core": local,
                     "messages_between_cores": msgs - local - between_chips, "messages_between_chips": between_chips,
                     "hops": hops_ew + hops_ns, "hops_ew": hops_ew, "hops_ns": hops_ns, "chip_hops": chip_hops}
    return out


def _destination_cores(graph: Graph, layer: str, mapping: Mapping) -> dict[Core, tuple[np.ndarray | None, bool]]:
    """Per core that holds a consumer block of ``layer``: the neurons of ``layer`` it reads (None: all), and
    whether a recurrent synapse carries them there."""
    blocks = {name: m.blocks for name, m in mapping.layers.items()}
    reads = reads_by_core(graph, layer, blocks, lambda c, i: mapping.layers[c].cores[i])
    return {core: (idx, any(graph.is_recurrent(s) for s in graph.successors(layer)
                            if any(c in graph.successors(s) for c in held)))
            for core, (idx, held) in reads.items()}


def ann_macs(node: IntegerSynapse) -> int:
    """Multiply-accumulates of one pass of the same layer in an ANN: every weight of a dense layer, every kernel tap
    that lands inside the input map (zero weights included, as for the dense layer) of a convolution."""
    if isinstance(node, QConv):
        return int(fan_out(np.ones_like(node.weight), node.geometry).sum())
    return int(node.weight.size)


def energy_report(graph: Graph, counts: dict[str, Any], target: Target, samples: int, timesteps: int,
                  latency: int) -> dict[str, Any]:
    """Per-inference operation counts and energy under the target model, the paper convention and NeuroBench."""
    pc = target.figures["paper_convention"]
    per = 1.0 / samples
    layers: dict[str, dict[str, Any]] = {}
    spikes_per_neuron = {n: c.spikes_per_neuron for n, c in counts.items() if c.spikes_per_neuron is not None}
    mapping = Mapping.of(graph)
    tr = traffic(graph, spikes_per_neuron, mapping)
    ac = mac = ann_mac = 0.0
    for name, node in graph.nodes.items():
        c = counts.get(name)
        if isinstance(node, IntegerSynapse) and c is not None:
            layers[name] = {"synops": c.synops * per, "synops_dense": c.synops_dense * per, "graded": c.graded_input}
            if c.graded_input:
                mac += c.synops * per
            else:
                ac += c.synops * per
            ann_mac += float(ann_macs(node))
        elif isinstance(node, IntegerNeuron) and c is not None:
            active = c.neuron_updates if c.neuron_updates_active is None else c.neuron_updates_active
            layers[name] = {"neuron_updates": c.neuron_updates * per, "spikes": c.spikes * per,
                            "neuron_updates_active": active * per,
                            "neuron_updates_inactive": (c.neuron_updates - active) * per,
                            "activity_measured": c.neuron_updates_active is not None,
                            **{k: v * per for k, v in tr[name].items()}}

    def total(key: str) -> float:
        return sum(v.get(key, 0.0) for v in layers.values())

    msgs, hops = total("messages"), total("hops")
    steps = timesteps + latency
    chips = len({c.chip for m in mapping.layers.values() for c in m.cores})
    per_inference = {
        "synops": total("synops"), "neuron_updates": total("neuron_updates"), "spikes": total("spikes"),
        "spike_messages": msgs, "recurrent_messages": total("recurrent_messages"),
        **{k: total(k) for k in ("messages_within_core", "messages_between_cores", "messages_between_chips")},
        "hops_per_message": hops / msgs if msgs else 0.0, "hops": hops, "chip_hops": total("chip_hops"),
        "steps": steps, **{k: total(k) for k in ("neuron_updates_active", "neuron_updates_inactive", "hops_ew",
                                                 "hops_ns")},
        "neuron_activity_measured": all(v["activity_measured"] for v in layers.values() if "spikes" in v),
    }
    model = {end: _target_model(graph, mapping, counts, target, per_inference, samples, chips, end)
             for end in ("value", *ENDS)}
    used = {f"{section}.{k}": f for section in ("energy", "timing") for k, f in target.figures[section].items()
            if k != "time_step"}
    used.update({"paper_convention." + k: pc[k] for k in ("ac", "mac")})
    return {
        "per_inference": per_inference,
        "layers": layers,
        "target_model": {**model["value"], "chips": chips, "chips_available": int(target.value("system", "chips")),
                         "band": {end: model[end] for end in ENDS}},
        "paper_convention": {"ac": ac, "mac": mac, "energy_j": (ac * pc["ac"].value + mac * pc["mac"].value) * PJ,
                             "ann_mac": ann_mac, "ann_energy_j": ann_mac * pc["mac"].value * PJ,
                             "label": PAPER_LABEL},
        "neurobench": neurobench_counts(graph, counts, samples),
        "figures": {k: f.to_data() for k, f in used.items()},
        "activity": {"samples": samples, "timesteps": timesteps},
    }


def _target_model(graph: Graph, mapping: Mapping, counts: dict[str, Any], target: Target, pi: dict[str, Any],
                  samples: int, chips: int, end: str) -> dict[str, Any]:
    """Energy and time of one inference with every figure at ``end``: its value, or its band's low / high end."""
    def fig(section: str, key: str) -> float:
        return target.figures[section][key].bound(end)

    dynamic = {
        "synops": pi["synops"] * fig("energy", "synop") * PJ,
        "neuron_updates": (pi["neuron_updates_active"] * fig("energy", "neuron_update")
                           + pi["neuron_updates_inactive"] * fig("energy", "neuron_update_inactive")) * PJ,
        "spike_messages": pi["spike_messages"] * fig("energy", "spike_local") * PJ,
        "spike_hops": (pi["hops_ew"] * fig("energy", "spike_hop") + pi["hops_ns"] * fig("energy", "spike_hop_ns"))
        * PJ,
        "spike_chip_hops": pi["chip_hops"] * fig("energy", "spike_chip_hop") * PJ,
    }
    step_time = _step_time(graph, mapping, counts, samples, pi["steps"], fig)
    static = fig("energy", "static_power_per_chip") * chips * step_time * pi["steps"]
    return {"dynamic_j": dynamic, "dynamic_total_j": sum(dynamic.values()), "static_j": static,
            "total_j": sum(dynamic.values()) + static, "step_time_s": step_time, "latency_s": step_time * pi["steps"]}


def _step_time(graph: Graph, mapping: Mapping, counts: dict[str, Any], samples: int, steps: int,
               fig: Callable[[str, str], float]) -> float:
    """Mean time of one step: the busiest core's synaptic + neuron work (every group it holds; active and
    inactive neurons at their own times), plus the barrier."""
    per_block: dict[str, float] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, IntegerNeuron):
            continue
        syn = sum(counts[s].synops for s in graph.predecessors(name) if s in counts) / (samples * steps)
        c = counts[name]
        share = 1.0 if c.neuron_updates_active is None or not c.neuron_updates else (
            c.neuron_updates_active / c.neuron_updates)  # of its updates, the active ones
        neuron_time = (share * fig("timing", "neuron_update_time")
                       + (1.0 - share) * fig("timing", "neuron_update_inactive_time"))
        n_blocks = len(mapping.layers[name].blocks)
        per_block[name] = (syn / n_blocks) * fig("timing", "synop_time") + (layer_size(node) / n_blocks) * neuron_time
    busiest = max((sum(per_block[name] for name, _ in members) for members in mapping.slot_members().values()),
                  default=0.0)
    return (busiest + fig("timing", "barrier_time")) * 1e-9
