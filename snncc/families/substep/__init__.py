"""The sub-step primitive: a multi-level neuron on a sub-step clock, its payload sent as a burst of binary spikes.

For targets without graded spikes (``multilevel=substep``): every input step becomes ``S`` target steps, exact
with leak too, at ``S`` times the time steps (the population lowering costs ``levels`` times the neurons instead).
Its graphs run on the family's own reference and Lava runners (:mod:`snncc.families.substep.runners`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from snncc.families.base import Family
from snncc.families.substep.nodes import QSubStepMultiLevel
from snncc.ir import Graph


class SubStepFamily(Family):
    name = "substep"
    integer_nodes: ClassVar[tuple[type, ...]] = (QSubStepMultiLevel,)
    graph_runners: ClassVar[dict[str, str]] = {
        "reference": "snncc.families.substep.runners:SubStepSimulator",
        "lava": "snncc.families.substep.runners:SubStepLavaRunner",
    }

    def claims_graph(self, graph: Graph) -> bool:
        return any(isinstance(n, QSubStepMultiLevel) for n in graph.nodes.values())

    def primitive(self, g: Graph, name: str) -> str:
        return "multilevel_substep"

    def lava_storage(self, node: Any) -> dict[str, tuple[Any, int]]:
        return {}


FAMILY = SubStepFamily()
