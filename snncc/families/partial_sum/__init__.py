"""The signed-relay family: memoryless integer neurons that re-emit their summed input one step later.

The split-fan-in pass (:mod:`snncc.passes.split_fan_in`) cuts a neuron layer's fan-in into partial sums that
layers of these relays carry, as signed graded payloads, to the layer; it rebalances the paths the extra step
skews with the same relays fed binary spikes or graded payloads. The integer rule (:mod:`.integer`) is shared by
the reference simulator (:class:`~snncc.families.partial_sum.nodes.QRelay`) and the Lava process
(:class:`~snncc.families.partial_sum.lava.SignedRelay`); the target declares it as its ``signed_relay`` primitive
(graded spikes needed).
"""

from __future__ import annotations

from typing import Any, ClassVar

from snncc.families.base import Family
from snncc.families.partial_sum.nodes import QRelay
from snncc.ir import Graph
from snncc.target import Target

PRIMITIVE = "signed_relay"


class PartialSumFamily(Family):
    name = "partial_sum"
    integer_nodes: ClassVar[tuple[type, ...]] = (QRelay,)
    relay: ClassVar[str | None] = "signed"

    def relay_neuron(self, n: int, levels: int | None, metadata: dict, out_scale: float) -> QRelay:
        """``n`` integer relays (this family has no float node: it is made after quantize); ``out_scale`` must
        be 1 (an integer relay copies integers)."""
        if out_scale != 1.0:
            raise ValueError("an integer relay re-emits integers: out_scale must be 1")
        return QRelay(neurons=n, levels=levels, metadata=metadata)

    def relays_on(self, target: Target) -> bool:
        return PRIMITIVE in target.primitives and target.value("formats", "graded_payload_bits") > 0

    def primitive(self, g: Graph, name: str) -> str:
        return PRIMITIVE

    def primitive_hint(self, primitive: str) -> str | None:
        return ("splitting a fan-in needs signed graded relays: declare 'signed_relay: {kind: custom, lava: "
                "snncc.families.partial_sum.lava.SignedRelay}' under the target's primitives (and graded spikes)")

    def lava_storage(self, node: QRelay) -> dict[str, tuple[Any, int]]:
        return {}


FAMILY = PartialSumFamily()
