"""netx's CUBA neurons in (``snncc compile x.net``): what ``netx.hdf5.Network.get_neuron_params`` gives Lava's
``LIF``/``LIFReset``, as a ``QLIF`` (hard reset; ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, the block's
``bias`` as ``bias_mant`` with ``bias_exp = 6``). An exact fit: netx's LIF is the stock Lava LIF QLIF is pinned to."""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.families.lif.nodes import QLIF

NETX_TYPES = ("CUBA", "LOIHI")
RESETS = True  # netx gives these blocks LIFReset (staggered by depth) when asked for a reset_interval
NETX_BIAS_EXP = 6


def from_netx(cfg: dict[str, Any], bias: np.ndarray, encoder: bool, layer: str) -> QLIF:
    return QLIF(du=int(cfg["iDecay"]) - 1, dv=int(cfg["vDecay"]), vth=int(cfg["vThMant"]), bias_mant=bias,
                bias_exp=NETX_BIAS_EXP, reset="zero")
