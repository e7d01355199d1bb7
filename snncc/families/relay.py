"""The relay primitive: memoryless neurons that re-emit their input one step later (binary, or graded counts).

The compiler inserts relays where the chip's one-step-per-synapse timing needs a layer the trained model does not
have: balance-latency delays the shorter of two paths that meet, canonicalize keeps a pooling of spikes as a layer
of window sums when fusing it would exceed a core's input axons. In the float model a relay is a same-step copy
(exact); deployed, each relay stage adds the one step that balances the paths.

A **binary** relay fires exactly when its input spiked; a **graded** relay re-emits an integer input ``z`` in
``0..levels``, each level worth ``out_scale`` (its quantizer gives weight and threshold the same quantum, so the
integer relay is exact too). The family that makes each kind says so with ``Family.relay`` and builds the neurons
(``Family.relay_neuron``); a graded relay needs a target with graded spikes (``Family.relays_on``).

A **signed** relay is integer from the start (split-fan-in makes it after quantize): it re-emits a signed integer
sum, a partial sum of a split fan-in of magnitude up to ``levels``, or binary spikes (``levels`` None) on the paths
split-fan-in rebalances.
"""

from __future__ import annotations

from typing import Any

from snncc.families import REGISTRY
from snncc.target import Target


def binary_relay(n: int, metadata: dict) -> Any:
    """``n`` memoryless neurons that fire exactly when their input spiked."""
    return REGISTRY.relay("binary").relay_neuron(n, None, metadata, 1.0)


def graded_relay(n: int, levels: int, metadata: dict, out_scale: float = 1.0) -> Any:
    """``n`` memoryless neurons that re-emit an integer input ``z`` in ``0..levels``, each level worth
    ``out_scale``."""
    return REGISTRY.relay("graded").relay_neuron(n, levels, metadata, out_scale)


def graded_relays(target: Target) -> bool:
    """Whether ``target`` runs graded relays (it has graded spikes)."""
    return REGISTRY.relay("graded").relays_on(target)


def signed_relay(n: int, levels: int | None, metadata: dict) -> Any:
    """``n`` memoryless integer neurons that re-emit their summed input: a signed graded payload of magnitude up to
    ``levels``, or binary spikes (``levels`` None)."""
    return REGISTRY.relay("signed").relay_neuron(n, levels, metadata, 1.0)


def signed_relays(target: Target) -> bool:
    """Whether ``target`` runs signed relays (its ``signed_relay`` primitive, graded spikes)."""
    return REGISTRY.relay("signed").relays_on(target)
