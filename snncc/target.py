"""Load and validate hardware target descriptions (YAML under ``targets/``, or a user's own file).

A target is data: per-core limits, number formats, latency, primitives and per-operation energy, each figure with
its source and whether it is confirmed. Passes and reports read it through :class:`Target`; nothing in snncc
branches on a target's name.
"""

from __future__ import annotations

import importlib.resources
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import TargetError
from .fixedpoint import NeuronFormat, SynapseFormat

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Rule:
    """What a figure's value may be: ``kind`` int | number | flag | mesh, within [lo, hi] (``lo_open``: > lo).

    The ranges keep every figure meaningful and every integer computation within int64, so that a target that
    loads also compiles and runs; they are not claims about any chip."""

    kind: str
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks the rule (None when it keeps it)."""
        if self.kind == "flag":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "mesh":
            ok = isinstance(value, list) and len(value) == 2 and all(_is_int(v) and v > 0 for v in value)
            return None if ok else "must be [rows, cols], two positive integers"
        if self.kind == "int" and not _is_int(value):
            return "must be an integer"
        if not _is_number(value) or not math.isfinite(value):
            return "must be a finite number"
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        if not low_ok or value > self.hi:
            if self.lo == 0 and self.hi == math.inf:
                return "must be positive" if self.lo_open else "must not be negative"
            low = f"({self.lo}" if self.lo_open else f"[{self.lo:g}"
            return f"must lie in {low}, {self.hi:g}]"
        return None


COUNT = Rule("int", 1, 2**40)
COST = Rule("number", 0)  # energies, times and byte counts: not negative
BITS = Rule("int", 1, 32)
EXPONENT = Rule("int", -32, 32)
# section -> key -> rule, for every figure a target must give (each as {value, unit, source, confirmed})
FIGURE_RULES: dict[str, dict[str, Rule]] = {
    "system": {"chips": Rule("int", 1, 2**20), "cores_per_chip": Rule("int", 1, 2**20), "mesh_shape": Rule("mesh")},
    "core_limits": {"neurons": COUNT, "memory": COUNT, "input_axons": COUNT, "output_axons": COUNT},
    "memory_model": {"synapse_bits": Rule("int", 1, 64), "neuron_state_bytes": COST, "input_axon_bytes": COST},
    "formats": {
        "weight_bits": Rule("int", 2, 8), "weight_exp_min": EXPONENT, "weight_exp_max": EXPONENT,
        "state_bits": Rule("int", 2, 32), "decay_bits": Rule("int", 1, 24), "vth_bits": BITS,
        "bias_mant_bits": Rule("int", 2, 32), "bias_exp_min": Rule("int", 0, 24), "bias_exp_max": Rule("int", 0, 24),
        "graded_payload_bits": Rule("int", 0, 32),
    },
    "latency": {"synapse_steps": Rule("int", 1, 64)},
    "energy": {k: COST for k in ("synop", "neuron_update", "spike_local", "spike_hop", "spike_chip_hop",
                                 "static_power_per_chip")},
    "timing": {"time_step": Rule("number", 0, lo_open=True), "synop_time": COST, "neuron_update_time": COST,
               "barrier_time": COST},
    "paper_convention": {"ac": COST, "mac": COST},
}
# section -> key -> (rule, default) for figures a target may leave out (older target files keep loading)
OPTIONAL_FIGURES: dict[str, dict[str, tuple[Rule, dict[str, Any]]]] = {
    "core_limits": {
        "neuron_groups": (COUNT, {
            "value": 1, "unit": "groups", "confirmed": False,
            "source": "default (not given by the target file): one layer's block per core, no sharing",
        }),
    },
    "memory_model": {
        "conv_weight_sharing": (Rule("flag"), {
            "value": False, "unit": "flag", "confirmed": False,
            "source": "default (not given by the target file): one stored synapse per convolution connection",
        }),
        "kernel_weight_bits": (Rule("int", 1, 64), {
            "value": 8, "unit": "bits", "confirmed": False,
            "source": "default (not given by the target file): one 8-bit mantissa per shared kernel weight",
        }),
        "population_axon_slots": (Rule("int", 0, 8), {
            "value": 0, "unit": "slots", "confirmed": False,
            "source": "default (not given by the target file): no population axons, one axon per neuron",
        }),
    },
}
# figures a target may leave out that default to another figure of the same target (older files keep their meaning)
SAME_AS: dict[str, str] = {"energy.neuron_update_inactive": "energy.neuron_update",
                           "energy.spike_hop_ns": "energy.spike_hop",
                           "timing.neuron_update_inactive_time": "timing.neuron_update_time"}
TOP_LEVEL_KEYS = ("schema_version", "name", "description", "base", "primitives", "backends", "exporters",
                  *FIGURE_RULES)
FIGURE_SECTIONS = (*FIGURE_RULES, "primitives")  # what a derived target replaces entry by entry
# primitives every target must declare (what the lowering to LIF/Dense produces)
REQUIRED_PRIMITIVES = ("dense", "lif_hard_reset", "lif_soft_reset")
PRIMITIVE_KINDS = ("stock", "custom")


@dataclass(frozen=True)
class Bound:
    """One end of a figure's band, with where that end comes from."""

    value: float
    source: str


@dataclass(frozen=True)
class Figure:
    """One number of a target with its provenance; a figure nobody has measured may give a ``low``-``high`` band
    (each end with its own source) around the ``value`` the point estimate uses."""

    value: Any
    unit: str
    source: str
    confirmed: bool
    low: Bound | None = None
    high: Bound | None = None

    def bound(self, end: str) -> Any:
        """``value`` (end "value"), or the band's ``low`` / ``high`` end (the value itself without a band)."""
        return getattr(self, end).value if end != "value" and getattr(self, end) is not None else self.value

    def to_data(self) -> dict[str, Any]:
        out = {"value": self.value, "unit": self.unit, "source": self.source, "confirmed": self.confirmed}
        out.update({end: {"value": b.value, "source": b.source} for end in ("low", "high")
                    if (b := getattr(self, end)) is not None})
        return out


@dataclass(frozen=True)
class Primitive:
    name: str
    kind: str  # "stock" | "custom"
    lava: str  # dotted path of the Lava process class


@dataclass(frozen=True)
class Target:
    """A validated target description."""

    name: str
    description: str
    path: str
    figures: dict[str, dict[str, Figure]]
    primitives: dict[str, Primitive]
    backends: tuple[str, ...] | None = None  # the backends that run this target's bundles (None: every one)
    exporters: tuple[str, ...] | None = None  # the files a bundle for it gets (None: every exporter)

    def value(self, section: str, key: str) -> Any:
        return self.figures[section][key].value

    @property
    def neuron_format(self) -> NeuronFormat:
        f = self.figures["formats"]
        return NeuronFormat(
            state_bits=f["state_bits"].value, decay_bits=f["decay_bits"].value, vth_bits=f["vth_bits"].value,
            bias_mant_bits=f["bias_mant_bits"].value, bias_exp_min=f["bias_exp_min"].value,
            bias_exp_max=f["bias_exp_max"].value,
        )

    @property
    def synapse_format(self) -> SynapseFormat:
        f = self.figures["formats"]
        return SynapseFormat(
            weight_bits=f["weight_bits"].value, weight_exp_min=f["weight_exp_min"].value,
            weight_exp_max=f["weight_exp_max"].value,
        )

    @property
    def total_cores(self) -> int:
        return int(self.value("system", "chips")) * int(self.value("system", "cores_per_chip"))

    def to_yaml_data(self) -> dict[str, Any]:
        """The target as YAML-shaped data (what :func:`parse_target` reads), so a bundle re-validates the exact
        description it was compiled for."""
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": self.name, "description": self.description}
        for section, figs in self.figures.items():
            data[section] = {k: f.to_data() for k, f in figs.items()}
        data["primitives"] = {k: {"kind": p.kind, "lava": p.lava} for k, p in self.primitives.items()}
        for key in ("backends", "exporters"):
            if getattr(self, key) is not None:
                data[key] = list(getattr(self, key))
        return data

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view for manifests and reports."""
        return {
            "name": self.name,
            "path": self.path,
            "figures": {
                s: {k: f.to_data() for k, f in sec.items()} for s, sec in self.figures.items()
            },
            "primitives": {k: p.__dict__ for k, p in self.primitives.items()},
            **({"backends": list(self.backends)} if self.backends is not None else {}),
            **({"exporters": list(self.exporters)} if self.exporters is not None else {}),
        }


def builtin_targets() -> list[str]:
    """Names of the targets shipped with snncc."""
    files = importlib.resources.files("snncc.targets")
    return sorted(p.name[: -len(".yaml")] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_target(name_or_path: str | Path) -> Target:
    """Load a shipped target by name (``loihi2``) or a YAML file by path; validate it fully."""
    text, where = _read_target_text(str(name_or_path))
    return parse_target(with_base(_yaml(text, where), where), where)


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise TargetError(f"target file {where} is not valid YAML{at}: {problem}") from None


def with_base(data: Any, where: str, seen: tuple[str, ...] = ()) -> Any:
    """A target's data with its ``base`` (a built-in target's name or a file's path) filled in: the base's
    sections, each figure (and primitive) the derived file gives replacing the base's, every other top-level key
    the derived file's (a path is relative to the derived file). A file without ``base`` is returned as is."""
    if not isinstance(data, dict) or "base" not in data:
        return data
    name = data["base"]
    if not isinstance(name, str) or not name.strip():
        raise TargetError(f"target {where}: 'base' must name a target (built-in name or path), got {name!r}")
    if Path(name).suffix in (".yaml", ".yml") and not Path(name).is_absolute() and Path(where).is_file():
        name = str(Path(where).parent / name)  # a path relative to the derived file
    text, base_where = _read_target_text(name)
    chain = (*seen, _identity(where))
    if _identity(base_where) in chain:
        raise TargetError(f"target {where}: its 'base' chain loops back to {base_where}")
    base = with_base(_yaml(text, base_where), base_where, chain)
    if not isinstance(base, dict):
        raise TargetError(f"target {where}: its base {base_where} is not a mapping of sections")
    out = {k: v for k, v in base.items()}
    for key, value in data.items():
        if key == "base":
            continue
        if key in FIGURE_SECTIONS and isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = {**base[key], **value}
        else:
            out[key] = value
    return out


def target_variant(base: str | Path, overrides: dict[str, Any], reason: str, folder: str | Path | None = None) -> Path:
    """Write a copy of target ``base`` with some figures replaced (``{"formats.weight_bits": 6}``) as a YAML file and
    return its path: a "what if" target (fewer weight bits, more chips) that stays data, each replaced figure marked
    unconfirmed with ``reason`` as its source. Validated like any target; an unknown key is a TargetError."""
    import tempfile

    text, where = _read_target_text(str(base))
    data = with_base(_yaml(text, where), where)
    name = parse_target(data, where).name
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        figure = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if not isinstance(figure, dict):
            raise TargetError(f"target {where} has no figure '{dotted}' to override")
        figure.update(value=value, source=f"override of {name}: {reason}", confirmed=False)
        figure.pop("low", None), figure.pop("high", None)  # one number now, no band
    label = "-".join(f"{k.split('.')[-1]}{v}" for k, v in overrides.items()).replace(" ", "")
    data["name"] = f"{name}-{label}" if label else name
    out = Path(folder or tempfile.mkdtemp(prefix="snncc-target-")) / f"{data['name']}.yaml"
    parse_target(data, str(out))  # the variant must still be a valid target
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _identity(where: str) -> str:
    """One name per target file, however its path was written."""
    return str(Path(where).resolve()) if Path(where).is_file() else where


def _read_target_text(name_or_path: str) -> tuple[str, str]:
    if not name_or_path.strip():
        raise TargetError("the target name is empty (--target)",
                          hint=f"built-in targets: {', '.join(builtin_targets())}; or pass the path of a .yaml file")
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise TargetError(f"target file {path} is a folder, not a YAML file")
        if not path.is_file():
            raise TargetError(f"target file {path} does not exist")
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError:
            raise TargetError(f"target file {path} is not a text (UTF-8 YAML) file") from None
        except OSError as exc:
            raise TargetError(f"target file {path} cannot be read: {exc.strerror}") from None
    resource = importlib.resources.files("snncc.targets") / f"{name_or_path}.yaml"
    if not resource.is_file():
        raise TargetError(
            f"unknown target '{name_or_path}'",
            hint=f"built-in targets: {', '.join(builtin_targets())}; or pass the path of a .yaml file",
        )
    return resource.read_text(), f"{name_or_path} (built-in)"


def parse_target(data: Any, where: str = "<target>") -> Target:
    """Validate parsed YAML and build a :class:`Target`; every problem names the file and key."""
    if not isinstance(data, dict):
        raise TargetError(f"target {where}: top level must be a mapping of sections, got {type(data).__name__}")
    unknown = [str(k) for k in data if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise TargetError(f"target {where}: unknown section '{unknown[0]}'",
                          hint=f"sections: {', '.join(TOP_LEVEL_KEYS)}")
    if data.get("schema_version") != SCHEMA_VERSION:
        got = data.get("schema_version")
        raise TargetError(f"target {where}: schema_version must be {SCHEMA_VERSION}, got {got!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise TargetError(f"target {where}: 'name' must be a non-empty string")
    figures: dict[str, dict[str, Figure]] = {}
    for section, rules in FIGURE_RULES.items():
        sec = data.get(section)
        if not isinstance(sec, dict):
            raise TargetError(f"target {where}: missing section '{section}'")
        optional = {**OPTIONAL_FIGURES.get(section, {}),
                    **{k.split(".")[1]: (COST, None) for k in SAME_AS if k.startswith(section + ".")}}
        for key in sec:
            if key not in rules and key not in optional:
                raise TargetError(f"target {where}: unknown figure '{section}.{key}'",
                                  hint=f"{section} has {', '.join([*rules, *optional])}")
        figures[section] = {}
        for key, rule in rules.items():
            if key not in sec:
                raise TargetError(f"target {where}: missing figure '{section}.{key}'")
            figures[section][key] = _parse_figure(sec[key], f"{section}.{key}", rule, where)
        for key, (rule, default) in optional.items():
            if key in sec:
                figures[section][key] = _parse_figure(sec[key], f"{section}.{key}", rule, where)
            elif default is not None:
                figures[section][key] = Figure(**default)
    for dotted, other in SAME_AS.items():  # after every section: the figure each default copies is parsed
        section, key = dotted.split(".")
        if key not in figures[section]:
            figures[section][key] = Figure(**{**figures[section][other.split(".")[1]].__dict__,
                                              "source": f"default (not given by the target file): {other}'s figure"})
    _check_consistency(figures, where)
    primitives = _parse_primitives(data.get("primitives"), where)
    return Target(name=name, description=str(data.get("description", "")), path=where,
                  figures=figures, primitives=primitives, backends=_names(data, "backends", where),
                  exporters=_names(data, "exporters", where))


def _names(data: dict, key: str, where: str) -> tuple[str, ...] | None:
    """An optional list of names (``backends``, ``exporters``); None when the target does not give one."""
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TargetError(f"target {where}: '{key}' must be a list of names, got {value!r}")
    return tuple(value)


def _parse_figure(raw: Any, key: str, rule: Rule, where: str) -> Figure:
    if not isinstance(raw, dict):
        raise TargetError(f"target {where}: '{key}' must be a mapping {{value, unit, source, confirmed}}")
    missing = [k for k in ("value", "unit", "source", "confirmed") if k not in raw]
    if missing:
        raise TargetError(f"target {where}: '{key}' lacks {', '.join(missing)}")
    problem = rule.problem(raw["value"])
    if problem:
        raise TargetError(f"target {where}: '{key}.value' {problem}, got {raw['value']!r}")
    if not isinstance(raw["confirmed"], bool):
        raise TargetError(f"target {where}: '{key}.confirmed' must be true or false, got {raw['confirmed']!r}")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise TargetError(f"target {where}: '{key}.source' must name where the figure comes from")
    low, high = (_parse_bound(raw, key, end, rule, where) for end in ("low", "high"))
    if (low is None) != (high is None):
        raise TargetError(f"target {where}: '{key}' gives one end of a band; a band needs both low and high")
    if low is not None and not low.value <= raw["value"] <= high.value:
        raise TargetError(f"target {where}: '{key}' band must hold low <= value <= high, got {low.value} <= "
                          f"{raw['value']} <= {high.value}")
    return Figure(value=raw["value"], unit=str(raw["unit"]), source=raw["source"], confirmed=raw["confirmed"],
                  low=low, high=high)


def _parse_bound(raw: dict, key: str, end: str, rule: Rule, where: str) -> Bound | None:
    """The ``low`` or ``high`` end of a figure's band ({value, source}), None when the figure gives none."""
    if end not in raw:
        return None
    spec = raw[end]
    if not isinstance(spec, dict) or set(spec) != {"value", "source"}:
        raise TargetError(f"target {where}: '{key}.{end}' must be a mapping {{value, source}}, got {spec!r}")
    problem = rule.problem(spec["value"]) if rule.kind == "number" else "a band needs a number figure"
    if problem:
        raise TargetError(f"target {where}: '{key}.{end}.value' {problem}, got {spec['value']!r}")
    if not isinstance(spec["source"], str) or not spec["source"].strip():
        raise TargetError(f"target {where}: '{key}.{end}.source' must name where that end comes from")
    return Bound(value=spec["value"], source=spec["source"])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_consistency(figures: dict[str, dict[str, Figure]], where: str) -> None:
    """What single-figure rules cannot say: ordered ranges, a mesh that holds the chip's cores."""
    f = figures["formats"]
    for low, high in (("weight_exp_min", "weight_exp_max"), ("bias_exp_min", "bias_exp_max")):
        if f[low].value > f[high].value:
            raise TargetError(f"target {where}: formats.{low} ({f[low].value}) exceeds formats.{high} "
                              f"({f[high].value})")
    rows, cols = figures["system"]["mesh_shape"].value
    cores = figures["system"]["cores_per_chip"].value
    if rows * cols < cores:
        raise TargetError(f"target {where}: system.mesh_shape {rows}x{cols} holds {rows * cols} cores, fewer than "
                          f"system.cores_per_chip ({cores})")


def _parse_primitives(raw: Any, where: str) -> dict[str, Primitive]:
    if not isinstance(raw, dict):
        raise TargetError(f"target {where}: missing section 'primitives'")
    out = {}
    for name, spec in raw.items():
        lava = spec.get("lava") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or spec.get("kind") not in PRIMITIVE_KINDS or not (
                isinstance(lava, str) and re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", lava)):
            raise TargetError(f"target {where}: primitive '{name}' needs kind (stock|custom) and lava (a dotted "
                              f"process path), got {spec!r}")
        out[name] = Primitive(name=name, kind=spec["kind"], lava=spec["lava"])
    for name in REQUIRED_PRIMITIVES:
        if name not in out:
            raise TargetError(f"target {where}: primitive '{name}' is not declared")
    return out
