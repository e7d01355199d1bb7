"""partition: split every neuron layer into blocks that each fit one core under every per-core limit.

The algorithm is the ``algorithm`` option (a partitioner of :mod:`snncc.mapping`; the greedy one by default). The
blocks go into the graph's mapping (:class:`snncc.mapping.Mapping`, ``keys.MAPPING``); per-layer figures and the
binding limit to ``ctx.notes['partition']``. With ``share_cores`` (the default) blocks of different layers are then
packed onto shared cores (:mod:`snncc.mapping.packing`), up to the target's ``core_limits.neuron_groups``, and
relay layers are cut anew into the room left (:mod:`snncc.mapping.fill`); the mapping's slots say which blocks
share one. A layer no block size can fit, or a model needing more cores than
the target has, raises :class:`ResourceError` naming the layer and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import GraphError, ResourceError
from ..ir import Graph, keys, layer_size
from ..mapping import PARTITIONERS, LayerMapping, Mapping
from ..mapping.cost import Limits, overfull
from ..mapping.layers import neuron_layers
from ..mapping.packing import pack_best
from ..target import Target
from .base import Pass, PassContext
from .options import option

PartitionAlgorithm = Literal[tuple(PARTITIONERS)]  # type: ignore[valid-type]


@dataclass
class Partition(Pass):
    name = "partition"
    algorithm: PartitionAlgorithm = option("greedy", help="the partitioning algorithm (snncc.mapping.PARTITIONERS)")
    share_cores: bool = option(True, help="pack blocks of different layers onto shared cores, up to the target's "
                                          "core_limits.neuron_groups")

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get(keys.QUANTIZED):
            raise GraphError("partition needs a quantized graph (run quantize first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        blocks, notes = PARTITIONERS[self.algorithm]().partition(g, ctx.target)
        slots: dict[str, list[int]] = {}
        reserve = 0.0
        if self.share_cores and Limits.of(ctx.target).neuron_groups > 1:
            blocks, slots, reserve = pack_best(g, ctx.target, blocks, notes)
            for name, layer_blocks in blocks.items():
                notes[name]["blocks"] = len(layer_blocks)
        mapping = Mapping({name: LayerMapping(b, slots=slots.get(name, [])) for name, b in blocks.items()})
        _check_total(ctx.target, mapping, {k: len(b) for k, b in blocks.items()})
        mapping.store(g)
        ctx.notes["partition"] = {"layers": notes, "blocks": sum(len(b) for b in blocks.values()),
                                  "cores": mapping.cores_used, "memory_reserve": reserve}
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        mapping = Mapping.of(graph)
        for name in neuron_layers(graph):
            blocks = mapping.layers[name].blocks if name in mapping.layers else []
            if not blocks:
                raise ResourceError("blocks do not cover the layer", layer=name)
            ranges = sorted(r for b in blocks for r in b.ranges)
            stops = [0] + [b for _, b in ranges]
            if any(a != prev for (a, _), prev in zip(ranges, stops, strict=False)) or stops[-1] != layer_size(
                    graph.nodes[name]):
                raise ResourceError("blocks do not cover the layer exactly once", layer=name)
        for name, m in mapping.layers.items():
            if len(set(m.slots)) != len(m.slots):
                raise ResourceError("two blocks of the layer share a core", layer=name)
        broken = overfull(graph, ctx.target, mapping)
        if broken is not None:
            where, limit, used, cap = broken
            raise ResourceError(f"the core holding {where} (partitioner '{self.algorithm}') uses {used} {limit}, "
                                f"more than a core's {cap} (core_limits.{limit})", layer=where.split()[0])


def _check_total(target: Target, mapping: Mapping, n_blocks: dict[str, int]) -> None:
    total = mapping.cores_used
    if total > target.total_cores:
        worst = max(n_blocks, key=lambda k: n_blocks[k])
        raise ResourceError(f"the model needs {total} cores but the target has {target.total_cores} "
                            f"(system.chips x system.cores_per_chip); layer '{worst}' alone takes "
                            f"{n_blocks[worst]}", hint="use a target file with more chips")
