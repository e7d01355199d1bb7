"""The AR-LIF family (Huang et al. 2025): an adaptive-threshold, adaptive-reset LIF with a reset memory.

Deployed by default as snncc's integer AR-LIF program (``QARLIF``: Q12 state, table sigmoid/tanh; exact for a
model trained in deploy-exact mode), which runs on snncc's custom Lava process; on request (``arlif=stock``) as a
stock LIF with the same leak and base threshold, dropping the adaptive threshold and reset (approximate, measured).
"""

from __future__ import annotations

from typing import Any, ClassVar

from snncc.families.arlif.nodes import QARLIF, ARLIFNeuron
from snncc.families.arlif.quantize import quantize_arlif
from snncc.families.base import Family, Option, RuleContext
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import Graph, InputEncoding


class ARLIFFamily(Family):
    name = "arlif"
    float_nodes: ClassVar[tuple[type, ...]] = (ARLIFNeuron,)
    integer_nodes: ClassVar[tuple[type, ...]] = (QARLIF,)
    options: ClassVar[tuple[Option, ...]] = (
        Option("lower-neurons", "arlif", ("program", "stock"), "program",
               "AR-LIF lowering: snncc's integer AR-LIF program (default) or an approximating stock LIF"),
    )

    def lower(self, g: Graph, name: str, choices: dict[str, str]) -> dict | None:
        if choices["arlif"] != "stock":
            return None  # quantize turns it into the integer program
        node: ARLIFNeuron = g.nodes[name]
        g.nodes[name] = LIFNeuron(decay_v=node.decay_v, decay_i=0.0, threshold=node.threshold, bias=node.bias,
                                  reset="zero", metadata=dict(node.metadata))
        return {"from": "AR-LIF", "to": "stock LIF (hard reset; adaptive threshold and reset dropped)",
                "exact": False}

    def quantize(self, g: Graph, name: str, enc: InputEncoding, ctx: RuleContext, resolution: str) -> dict:
        return quantize_arlif(g, name, g.nodes[name], enc, ctx)

    def primitive(self, g: Graph, name: str) -> str:
        return "arlif"

    def primitive_hint(self, primitive: str) -> str | None:
        return "compile AR-LIF with --arlif stock"

    def lava_storage(self, node: QARLIF) -> dict[str, tuple[Any, int]]:
        return {k: (getattr(node, k), 32) for k in ("bias", "dv", "vth", "amp", "gate")}

    def lava_state_vars(self, node: Any) -> dict[str, str]:
        return {"u": "m", "v": "v"}  # the program's second state word is the reset memory


FAMILY = ARLIFFamily()
