"""How a graph's continuous-time NIR neurons step: the five choices NIR leaves to whoever wrote the file.

NIR states ODEs with a reset to ``v_reset`` on ``v > v_threshold``, and nothing else: no time step, no
integration scheme, no reset by subtraction, no ``>=``, no several spikes in one step. Every library exporting NIR
assumes its own answers, so a NIR graph means something only together with them. The frontend decides them (a
library preset, a flag, or the file's own metadata when snncc wrote it) and records them in the graph metadata;
canonicalize reads them back here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import keys
from .nodes import RESET_MODES

DISCRETIZATIONS = ("euler", "exact")
"""``euler``: forward Euler, ``decay = 1 - dt/tau``, input gain ``dt r / tau`` (snnTorch, SpikingJelly, Norse, the
NIR paper graphs). ``exact``: the exact solution over a step with the input held, ``decay = exp(-dt/tau)``, gain
``(1 - decay) r`` (Sinabs)."""

MAX_SPIKES_LIMIT = 1 << 16  # Rockpool's default cap; a multi-level layer's levels

FIELDS = ("dt", "reset", "fire_at_threshold", "discretization", "max_spikes")
FLAGS = {"dt": "--dt", "reset": "--reset", "fire_at_threshold": "--threshold", "discretization": "--discretization",
         "max_spikes": "--max-spikes"}
METADATA_KEYS = {"dt": keys.DT, "reset": keys.RESET, "fire_at_threshold": keys.FIRE_AT_THRESHOLD,
                 "discretization": keys.DISCRETIZATION, "max_spikes": keys.MAX_SPIKES}


@dataclass(frozen=True)
class NeuronSemantics:
    """The decided semantics: seconds per step, reset mode, ``v >= threshold`` fires, integration scheme, and the
    most spikes a neuron sends in one step (1: binary; more: ``floor(v / threshold)`` spikes, capped, as Sinabs's
    MultiSpike and Rockpool's ``max_spikes_per_dt``)."""

    dt: float
    reset: str
    fire_at_threshold: bool
    discretization: str
    max_spikes: int = 1

    def __post_init__(self) -> None:
        for f in FIELDS:
            problem = problem_with(f, getattr(self, f))
            if problem:
                raise ValueError(problem)

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> NeuronSemantics:
        """The semantics recorded in a graph's metadata (KeyError when one is missing)."""
        return cls(**{f: metadata[METADATA_KEYS[f]] for f in FIELDS})

    def to_metadata(self) -> dict[str, Any]:
        return {METADATA_KEYS[f]: getattr(self, f) for f in FIELDS}


def problem_with(field_name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``field_name`` of :class:`NeuronSemantics` (None when it is)."""
    if field_name == "dt" and (isinstance(value, bool) or not isinstance(value, (int, float))
                               or not (0 < value < math.inf)):
        return f"dt must be a positive number of seconds, got {value!r}"
    if field_name == "reset" and value not in RESET_MODES:
        return f"reset must be one of {', '.join(RESET_MODES)}, got {value!r}"
    if field_name == "fire_at_threshold" and not isinstance(value, bool):
        return f"fire_at_threshold must be true or false, got {value!r}"
    if field_name == "discretization" and value not in DISCRETIZATIONS:
        return f"discretization must be one of {', '.join(DISCRETIZATIONS)}, got {value!r}"
    if field_name == "max_spikes" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                       or not 1 <= value <= MAX_SPIKES_LIMIT):
        return f"max_spikes must be an integer from 1 to {MAX_SPIKES_LIMIT}, got {value!r}"
    return None
