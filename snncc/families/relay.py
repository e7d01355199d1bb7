"""The relay primitive: memoryless neurons that re-emit their input one step later (binary, or graded counts).

The compiler inserts relays where the chip's one-step-per-synapse timing needs a layer the trained model does not
have: balance-latency delays the shorter of two paths that meet, canonicalize keeps a pooling of spikes as a layer
of window sums when fusing it would exceed a core's input axons. In the float model a relay is a same-step copy
(exact); deployed, each relay stage adds the one step that balances the paths.

* a **binary** relay is an IF neuron without memory (decays 0, threshold 1/2, hard reset): it fires exactly when its
  input spiked (the LIF family);
* a **graded** relay is a memoryless multi-level neuron of threshold 1: it re-emits an integer input ``z`` in
  ``0..levels`` (``floor(z / 1) = z``, nothing left in ``v``), each level worth ``out_scale`` (the multi-level
  family; the quantizer gives its weight and threshold the same quantum, so the integer relay is exact too). It
  needs a target with graded spikes.
"""

from __future__ import annotations

import numpy as np

from snncc.families.lif.nodes import LIFNeuron
from snncc.families.multilevel import GRADED
from snncc.families.multilevel.nodes import MultiLevelNeuron
from snncc.target import Target


def binary_relay(n: int, metadata: dict) -> LIFNeuron:
    """``n`` memoryless IF neurons that fire exactly when their input spiked."""
    return LIFNeuron(decay_v=np.zeros(n), decay_i=np.zeros(n), threshold=np.full(n, 0.5), bias=np.zeros(n),
                     reset="zero", metadata=metadata)


def graded_relay(n: int, levels: int, metadata: dict, out_scale: float = 1.0) -> MultiLevelNeuron:
    """``n`` memoryless multi-level neurons of threshold 1 that re-emit an integer input ``z`` in ``0..levels``
    (``floor(z / 1) = z``, nothing left in ``v``), each level worth ``out_scale``."""
    return MultiLevelNeuron(decay_v=np.zeros(n), decay_i=np.zeros(n), threshold=np.ones(n), bias=np.zeros(n),
                            offset=np.zeros(n), out_scale=np.full(n, out_scale), levels=levels, metadata=metadata)


def graded_relays(target: Target) -> bool:
    """Whether ``target`` runs graded relays (it has graded spikes)."""
    return GRADED in target.primitives
