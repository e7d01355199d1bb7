"""The sigma-delta family: lava-nc's sigma-delta neurons (``lava.proc.sdn``), as lava-dl netx builds SDNNs.

A netx SDNN is a ``Delta`` encoder (the input block), ``SigmaDelta`` layers with ReLU activation, and a ``Sigma``
decoder (a block with ``sigma_output``); one integer node, :class:`QSigmaDelta`, holds the three modes. Its layers
come from netx files only (:mod:`snncc.frontend.netx_import`): there is no float node or quantize rule, since a netx
file is already integer. It runs on snncc's :class:`~snncc.families.sigma_delta.lava.SnnccSigmaDelta` (the stock
processes never reset between samples).
"""

from __future__ import annotations

from typing import Any, ClassVar

from snncc.families.base import Family
from snncc.families.sigma_delta.nodes import QSigmaDelta
from snncc.ir import Graph

PRIMITIVE = "sigma_delta"


class SigmaDeltaFamily(Family):
    name = "sigma_delta"
    integer_nodes: ClassVar[tuple[type, ...]] = (QSigmaDelta,)

    def primitive(self, g: Graph, name: str) -> str:
        return PRIMITIVE

    def primitive_hint(self, primitive: str) -> str | None:
        return ("sigma-delta layers need graded spikes: declare 'sigma_delta: {kind: custom, lava: "
                "snncc.families.sigma_delta.lava.SnnccSigmaDelta}' under the target's primitives")

    def lava_storage(self, node: QSigmaDelta) -> dict[str, tuple[Any, int]]:
        return {"bias": (node.bias, 16), "vth << (spike_exp + state_exp)": (node.vth << (node.spike_exp +
                                                                                       node.state_exp), 32)}

    def lava_state_vars(self, node: QSigmaDelta) -> dict[str, str]:
        return {"u": "sigma", "v": "act"}


FAMILY = SigmaDeltaFamily()
