"""The LIF family: LIF and IF (hard or soft reset, current-based), NIR's LIF/IF/CubaLIF, the integer CUBA LIF.

Deployed on Lava's stock ``LIFReset`` (hard reset) or snncc's custom ``SnnccLIF`` (soft reset, membrane floor,
initial voltage, send window); exported to lava-dl netx as its CUBA neurons. Other families lower onto it (KLIF,
AR-LIF's stock lowering, the multi-level population, the binary relays).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import UnsupportedLayerError
from snncc.families.base import Family, RuleContext
from snncc.families.lif.nir import NIR_TYPES, from_nir
from snncc.families.lif.nir_export import FEATURES, to_nir
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.families.lif.quantize import quantize_lif
from snncc.ir import Graph, InputEncoding, timing
from snncc.ir.semantics import NeuronSemantics

NETX_BIAS_EXP = 6  # netx always sets bias_exp = 6 for CUBA neurons
LAVA_INT16 = (-(1 << 15), (1 << 15) - 1)  # Lava's fixed-point LIF stores bias_mant as int16


class LIFFamily(Family):
    name = "lif"
    float_nodes: ClassVar[tuple[type, ...]] = (LIFNeuron,)
    integer_nodes: ClassVar[tuple[type, ...]] = (QLIF,)
    nir_types: ClassVar[tuple[type, ...]] = NIR_TYPES
    netx_neurons: ClassVar[bool] = True
    relay: ClassVar[str | None] = "binary"
    nir_features = FEATURES

    def from_nir(self, node: Any, sem: NeuronSemantics, name: str) -> LIFNeuron:
        return from_nir(node, sem, name)

    def to_nir(self, node: LIFNeuron, dt: float, name: str, shape: tuple[int, ...], synapse_bias: bool) -> Any:
        return to_nir(node, dt, name, shape, synapse_bias)

    def relay_neuron(self, n: int, levels: int | None, metadata: dict, out_scale: float) -> LIFNeuron:
        """An IF neuron without memory (decays 0, threshold 1/2, hard reset): it fires exactly when its input
        spiked."""
        return LIFNeuron(decay_v=np.zeros(n), decay_i=np.zeros(n), threshold=np.full(n, 0.5), bias=np.zeros(n),
                         reset="zero", metadata=metadata)

    def quantize(self, g: Graph, name: str, enc: InputEncoding, ctx: RuleContext, resolution: str) -> dict:
        return quantize_lif(g, name, g.nodes[name], enc, ctx, resolution)

    def primitive(self, g: Graph, name: str) -> str:
        node: QLIF = g.nodes[name]
        # a layer whose output is read outside its window (by a lateral synapse, one step late) must send only
        # inside it, which needs snncc's custom process (see docs/semantics.md, Timing)
        if node.stock and name not in timing.windowed_layers(g):
            return "lif_hard_reset"
        plain_soft = node.reset == "subtract" and not node.fire_at_threshold and not np.any(node.current_bias)
        return "lif_soft_reset" if plain_soft and node.v_min is None and not np.any(node.v_init) else "lif_custom"

    def lava_storage(self, node: QLIF) -> dict[str, tuple[Any, int]]:
        return {"bias_mant": (node.bias_mant, 16), "bias_exp": (node.bias_exp, 16), "v_init": (node.v_init, 32),
                "v_min": (node.v_min if node.v_min is not None else 0, 32)}

    def netx_neuron(self, node: QLIF, name: str) -> dict[str, Any]:
        if node.reset != "zero":
            raise UnsupportedLayerError(f"netx's CUBA neurons reset v to zero; reset='{node.reset}' is not "
                                        "expressible", layer=name)
        if node.v_min is not None:
            raise UnsupportedLayerError(f"netx's CUBA neurons have no voltage floor; v_min={node.v_min} is not "
                                        "expressible", layer=name)
        if np.any(node.v_init):
            raise UnsupportedLayerError("netx's CUBA neurons start every sample from v = 0; a non-zero v_init is "
                                        "not expressible", layer=name)
        if np.any(node.current_bias):
            raise UnsupportedLayerError("netx's CUBA neurons add their bias to the voltage; a bias into the decaying "
                                        "current is not expressible", layer=name)
        if node.fire_at_threshold:
            raise UnsupportedLayerError("netx's CUBA neurons fire on v > threshold; a neuron that fires at "
                                        "v = threshold is not expressible", layer=name)
        return {"bias": _netx_bias(node, name), "iDecay": node.du + 1, "vDecay": node.dv, "vThMant": node.vth}


def _netx_bias(node: QLIF, name: str) -> np.ndarray:
    """netx's ``bias`` (used as bias_mant with bias_exp 6) equal to the QLIF's ``bias_mant << bias_exp``."""
    b = fx.bias_value(node.bias_mant, node.bias_exp)
    step = 1 << NETX_BIAS_EXP
    if np.any(b % step):
        raise UnsupportedLayerError(f"netx fixes bias_exp={NETX_BIAS_EXP}: effective biases must be multiples of "
                                    f"{step}", layer=name)
    bias = b // step
    if bias.size and (bias.min() < LAVA_INT16[0] or bias.max() > LAVA_INT16[1]):
        raise UnsupportedLayerError("bias / 64 exceeds Lava's int16 bias_mant", layer=name)
    return bias


FAMILY = LIFFamily()
