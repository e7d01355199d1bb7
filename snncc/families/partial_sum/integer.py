"""The signed relay's integer rule, written once for the reference simulator and the Lava process.

A relay neuron has no memory: it sends the summed synaptic input it received this step, unchanged, as a signed
graded payload (a partial sum of a split fan-in, see :mod:`snncc.passes.split_fan_in`) or, fed binary spikes, as a
binary spike. No shift, no threshold, no saturation: the split pass proves statically that every value it relays
stays inside the graded payload range (``formats.graded_payload_bits``), so the rule is the identity on int64.
"""

from __future__ import annotations

import numpy as np


def relay_step(a: np.ndarray) -> np.ndarray:
    """What a relay sends for its summed synaptic input ``a``: ``a`` itself (int64, a copy)."""
    return np.array(a, dtype=np.int64, copy=True)


def payload_bound(levels: int | None) -> int:
    """The largest payload magnitude a relay of ``levels`` sends (1 for binary spikes)."""
    return 1 if levels is None else int(levels)
