"""Reading a data-set run summary (the JSON ``snncc run --json`` writes) for ``snncc report --run``.

The summary is a JSON object with ``samples`` (a positive integer), ``energy`` (the structure of
:func:`snncc.reports.energy.energy_report`'s dict, computed over the run's samples), and optionally ``accuracy``
(0..1 or null) and ``layers`` (per layer an object; a neuron layer's may give its spike ``rate`` per neuron per
step). Its energy is checked against the bundle's own report: every key the compile wrote must be there with the
same kind of value, so that a summary of another bundle (other layer names) or of another snncc version is
refused, naming the first field that differs, instead of being drawn wrongly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import OptionError
from ..outputs import read_json


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _finite_problem(value: Any) -> str | None:
    """Why a number of the summary is unusable (NaN or infinite: Python's JSON reader accepts both), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value}, not a finite number"
    return None


def mismatch(value: Any, like: Any, field: str) -> str | None:
    """The first field of ``value`` whose presence or kind differs from ``like`` (what the compile wrote), as
    "field: problem", or None. Keys ``value`` has beyond ``like`` are allowed (a newer run of the same bundle), and
    a null where the compile wrote a number (a count that needs recorded states, which a run may not record)."""
    if isinstance(like, dict):
        if not isinstance(value, dict):
            return f"{field} must be an object, not {_kind(value)}"
        for key, sub in like.items():
            if key not in value:
                return f"{field}.{key} is missing (the bundle's report has it)"
            problem = mismatch(value[key], sub, f"{field}.{key}")
            if problem:
                return problem
        return None
    if like is None or (value is None and _kind(like) == "a number"):  # null: a count the run did not measure
        return None
    if _kind(value) != _kind(like):
        return f"{field} must be {_kind(like)}, not {_kind(value)}"
    problem = _finite_problem(value)
    return f"{field} {problem}" if problem else None


def load_run(path: str | Path, compiled: dict[str, Any]) -> dict[str, Any]:
    """The run summary at ``path``, checked against the bundle's compile report ``compiled``; an OptionError
    naming the file and the field otherwise."""
    p = Path(path)
    where = f"--run file {p}"
    if not p.exists():
        raise OptionError(f"{where} does not exist",
                          hint="'snncc run BUNDLE --inputs x.npy --json RUN.json' writes one")
    if not p.is_file():
        raise OptionError(f"{where} is not a file")
    data = read_json(p, where, OptionError)
    if not isinstance(data, dict):
        raise OptionError(f"{where} must hold a JSON object (a run summary), not {_kind(data)}")
    problem = _problem(data, compiled)
    if problem:
        raise OptionError(f"{where}: {problem}")
    return data


def _problem(data: dict[str, Any], compiled: dict[str, Any]) -> str | None:
    samples = data.get("samples")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        return f"'samples' must be a positive integer, got {samples!r}"
    accuracy = data.get("accuracy")
    if accuracy is not None and (_kind(accuracy) != "a number" or not 0.0 <= accuracy <= 1.0):
        return f"'accuracy' must be a number in [0, 1] or null, got {accuracy!r}"
    if "energy" not in data:
        return "'energy' is missing (the run's operation counts and energy per inference)"
    problem = mismatch(data["energy"], compiled["energy"], "energy")
    if problem:
        return problem
    layers = data.get("layers")
    if layers is None:
        return None
    if not isinstance(layers, dict):
        return f"'layers' must be an object (layer -> {{\"rate\": ...}}), not {_kind(layers)}"
    known = set(compiled["energy"]["layers"]) | set((compiled.get("fidelity") or {}).get("layers", {}))
    for name, lay in layers.items():
        if name not in known:
            return f"layers.{name} is not a layer of the bundle (a run of another bundle?)"
        if not isinstance(lay, dict):
            return f"layers.{name} must be an object (its \"rate\": spikes per neuron per step), not {_kind(lay)}"
        rate = lay.get("rate", 0.0)
        if _kind(rate) != "a number" or _finite_problem(rate) or rate < 0:
            return f"layers.{name}.rate must be a finite number >= 0, got {rate!r}"
    return None
