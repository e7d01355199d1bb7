"""Energy and time per inference from measured operation counts and the target's per-operation model.

Two conventions side by side:

* the **target model**: ``E = synops*E_syn + neuron_updates*E_nu + messages*E_local + hops*E_hop
  + chip_hops*E_chip + static_power_per_chip * chips * time``, every constant printed with its source and status;
* the **SNN-paper convention**: binary synaptic events are accumulates (0.9 pJ), graded ones multiply-accumulates
  (4.6 pJ); and an ANN of the same topology for comparison (one MAC per weight, one pass).

Spike messages: a neuron's spike is one message to each core that holds a consumer block (once per core, however
many of its groups read it); hops are the Manhattan distance on the chip's mesh (different chips count one chip
hop each). Static power is paid by the chips the placement uses (``target_model.chips``), not by every chip of
the target's board (``chips_available``, ``system.chips``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conv import fan_out
from ..ir import Graph, IntegerNeuron, IntegerSynapse, QConv, layer_size
from ..mapping import Core, Mapping
from ..mapping.layers import reads_by_core
from ..target import Target

PJ = 1e-12


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
        msgs = hops = chip_hops = rec_msgs = local = between_chips = 0
        for core, (idx, loop) in _destination_cores(graph, name, mapping).items():
            sent = every if idx is None else np.bincount(owner[idx], weights=counts[idx], minlength=len(blocks))
            sent = np.rint(sent).astype(np.int64)  # exact: float64 sums of counts far below 2**53
            same = place[:, 0] == core.chip
            msgs += int(sent.sum())
            rec_msgs += int(sent.sum()) if loop else 0
            local += int(sent[same & (place[:, 1] == core.core)].sum())
            between_chips += int(sent[~same].sum())
            hops += int((sent * (np.abs(core.row - place[:, 2]) + np.abs(core.col - place[:, 3])))[same].sum())
            chip_hops += int((sent * np.abs(core.chip - place[:, 0]))[~same].sum())
        out[name] = {"messages": msgs, "recurrent_messages": rec_msgs, "messages_within_core": local,
                     "messages_between_cores": msgs - local - between_chips, "messages_between_chips": between_chips,
                     "hops": hops, "chip_hops": chip_hops}
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
    """Per-inference operation counts and energy under the target model and the paper convention."""
    e, tm, pc = target.figures["energy"], target.figures["timing"], target.figures["paper_convention"]
    per = 1.0 / samples
    layers: dict[str, dict[str, float]] = {}
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
            layers[name] = {"neuron_updates": c.neuron_updates * per, "spikes": c.spikes * per,
                            **{k: v * per for k, v in tr[name].items()}}
    synops = sum(v.get("synops", 0.0) for v in layers.values())
    updates = sum(v.get("neuron_updates", 0.0) for v in layers.values())
    msgs = sum(v.get("messages", 0.0) for v in layers.values())
    rec_msgs = sum(v.get("recurrent_messages", 0.0) for v in layers.values())
    where = {k: sum(v.get(k, 0.0) for v in layers.values())
             for k in ("messages_within_core", "messages_between_cores", "messages_between_chips")}
    hops = sum(v.get("hops", 0.0) for v in layers.values())
    chip_hops = sum(v.get("chip_hops", 0.0) for v in layers.values())
    steps = timesteps + latency
    chips = len({c.chip for m in mapping.layers.values() for c in m.cores})
    step_time = _step_time(graph, mapping, counts, target, samples, steps)
    dynamic = {
        "synops": synops * e["synop"].value * PJ,
        "neuron_updates": updates * e["neuron_update"].value * PJ,
        "spike_messages": msgs * e["spike_local"].value * PJ,
        "spike_hops": hops * e["spike_hop"].value * PJ,
        "spike_chip_hops": chip_hops * e["spike_chip_hop"].value * PJ,
    }
    static = e["static_power_per_chip"].value * chips * step_time * steps
    used = {"energy." + k: e[k] for k in ("synop", "neuron_update", "spike_local", "spike_hop", "spike_chip_hop",
                                          "static_power_per_chip")}
    used.update({"timing." + k: tm[k] for k in ("synop_time", "neuron_update_time", "barrier_time")})
    used.update({"paper_convention." + k: pc[k] for k in ("ac", "mac")})
    return {
        "per_inference": {"synops": synops, "neuron_updates": updates, "spikes": sum(
            v.get("spikes", 0.0) for v in layers.values()), "spike_messages": msgs, "recurrent_messages": rec_msgs,
            **where, "hops_per_message": hops / msgs if msgs else 0.0, "hops": hops, "chip_hops": chip_hops,
            "steps": steps},
        "layers": layers,
        "target_model": {"dynamic_j": dynamic, "dynamic_total_j": sum(dynamic.values()), "static_j": static,
                         "total_j": sum(dynamic.values()) + static, "step_time_s": step_time,
                         "latency_s": step_time * steps, "chips": chips,
                         "chips_available": int(target.value("system", "chips"))},
        "paper_convention": {"ac": ac, "mac": mac, "energy_j": (ac * pc["ac"].value + mac * pc["mac"].value) * PJ,
                             "ann_mac": ann_mac, "ann_energy_j": ann_mac * pc["mac"].value * PJ},
        "figures": {k: {"value": f.value, "unit": f.unit, "source": f.source, "confirmed": f.confirmed}
                    for k, f in used.items()},
        "activity": {"samples": samples, "timesteps": timesteps},
    }


def _step_time(graph: Graph, mapping: Mapping, counts: dict[str, Any], target: Target, samples: int,
               steps: int) -> float:
    """Mean time of one step: the busiest core's synaptic + neuron work (every group it holds), plus the barrier."""
    tm = target.figures["timing"]
    per_block: dict[str, float] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, IntegerNeuron):
            continue
        syn = sum(counts[s].synops for s in graph.predecessors(name) if s in counts) / (samples * steps)
        n_blocks = len(mapping.layers[name].blocks)
        per_block[name] = (syn / n_blocks) * tm["synop_time"].value + (layer_size(node) / n_blocks) * tm[
            "neuron_update_time"].value
    busiest = max((sum(per_block[name] for name, _ in members) for members in mapping.slot_members().values()),
                  default=0.0)
    return (busiest + tm["barrier_time"].value) * 1e-9
