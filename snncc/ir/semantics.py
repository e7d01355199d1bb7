"""How a graph's continuous-time NIR neurons step: the four choices NIR leaves to whoever wrote the file.

NIR states ODEs with a reset to ``v_reset`` on ``v > v_threshold``, and nothing else: no time step, no
integration scheme, no reset by subtraction, no ``>=``. Every library exporting NIR assumes its own answers, so a
NIR graph means something only together with them. The frontend decides them (a library preset, a flag, or the
file's own metadata when snncc wrote it) and records them in the graph metadata; canonicalize reads them back here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import keys
from .nodes import RESET_MODES

DISCRETIZATIONS = ("euler", "exact")
"""``euler``: forward Euler, ``decay = 1 - dt/tau``, input gain ``dt r / tau`` (snnTorch, SpikingJelly, Norse, the
NIR paper graphs). ``exact``: the exact solution over a step with the input held, ``decay = exp(-dt/tau)``, gain
``(1 - decay) r`` (Sinabs)."""

FIELDS = ("dt", "reset", "fire_at_threshold", "discretization")
FLAGS = {"dt": "--dt", "reset": "--reset", "fire_at_threshold": "--threshold", "discretization": "--discretization"}
METADATA_KEYS = {"dt": keys.DT, "reset": keys.RESET, "fire_at_threshold": keys.FIRE_AT_THRESHOLD,
                 "discretization": keys.DISCRETIZATION}


@dataclass(frozen=True)
class NeuronSemantics:
    """The decided semantics: seconds per step, reset mode, ``v >= threshold`` fires, integration scheme."""

    dt: float
    reset: str
    fire_at_threshold: bool
    discretization: str

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
    return None
