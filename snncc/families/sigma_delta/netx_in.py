"""netx's SDNN neurons in: the input block's ``Delta`` encoder, ``sigma_output`` blocks' ``Sigma`` decoder and
``SigmaDelta`` otherwise, with the parameters ``netx.hdf5.Network.get_neuron_params`` gives them (ReLU always,
``spike_exp`` = the Network's default 6, ``state_exp = 6``, ``messageBits`` default 16)."""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.errors import UnsupportedLayerError
from snncc.families.sigma_delta.nodes import QSigmaDelta

NETX_TYPES = ("SDNN",)
RESETS = False  # netx ignores reset_interval for sigma-delta neurons (with a warning): state carries over
SPIKE_EXP = STATE_EXP = 6
MESSAGE_BITS = 16


def from_netx(cfg: dict[str, Any], bias: np.ndarray, encoder: bool, layer: str) -> QSigmaDelta:
    activation = str(cfg.get("activation", "relu"))
    if activation.lower() != "relu":
        raise UnsupportedLayerError(f"netx deploys every SDNN layer with ReLU; this one was trained with "
                                    f"'{activation}'", layer=layer)
    if np.any(bias):
        raise UnsupportedLayerError("an SDNN layer with a bias: netx's SigmaDelta (which never resets) integrates "
                                    "it from the first step of a run, before the layer's input arrives; snncc starts "
                                    "each layer at its first input", layer=layer)
    mode = "delta" if encoder else "sigma" if "sigma_output" in cfg else "sigma_delta"
    return QSigmaDelta(vth=int(cfg["vThMant"]) if mode != "sigma" else 0, bias=np.zeros(bias.size, np.int64),
                       mode=mode, act_mode="relu", cum_error=False, spike_exp=SPIKE_EXP, state_exp=STATE_EXP,
                       message_bits=max(int(cfg.get("messageBits", MESSAGE_BITS)), 2))
