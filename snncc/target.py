"""Load and validate hardware target descriptions (YAML under ``targets/``, or a user's own file).

A target is data: per-core limits, number formats, latency, primitives and per-operation energy, each figure with
its source and whether it is confirmed. Passes and reports read it through :class:`Target`; nothing in snncc
branches on a target's name.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import TargetError
from .fixedpoint import NeuronFormat, SynapseFormat

SCHEMA_VERSION = 1

# section -> keys every target must give, each as a figure {value, unit, source, confirmed}
REQUIRED_FIGURES: dict[str, tuple[str, ...]] = {
    "system": ("chips", "cores_per_chip", "mesh_shape"),
    "core_limits": ("neurons", "memory", "input_axons", "output_axons"),
    "memory_model": ("synapse_bits", "neuron_state_bytes", "input_axon_bytes"),
    "formats": (
        "weight_bits", "weight_exp_min", "weight_exp_max", "state_bits", "decay_bits", "vth_bits",
        "bias_mant_bits", "bias_exp_min", "bias_exp_max", "graded_payload_bits",
    ),
    "latency": ("synapse_steps",),
    "energy": ("synop", "neuron_update", "spike_local", "spike_hop", "spike_chip_hop", "static_power_per_chip"),
    "timing": ("time_step", "synop_time", "neuron_update_time", "barrier_time"),
    "paper_convention": ("ac", "mac"),
}
# section -> key -> default for figures a target may leave out (older target files keep loading)
OPTIONAL_FIGURES: dict[str, dict[str, dict[str, Any]]] = {
    "memory_model": {
        "conv_weight_sharing": {
            "value": False, "unit": "flag", "confirmed": False,
            "source": "default (not given by the target file): one stored synapse per convolution connection",
        },
    },
}
# figures whose value is true/false rather than a number
FLAG_FIGURES = {"memory_model.conv_weight_sharing"}
# primitives every target must declare (what the lowering to LIF/Dense produces)
REQUIRED_PRIMITIVES = ("dense", "lif_hard_reset", "lif_soft_reset")
PRIMITIVE_KINDS = ("stock", "custom")


@dataclass(frozen=True)
class Figure:
    """One number of a target with its provenance."""

    value: Any
    unit: str
    source: str
    confirmed: bool


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
            data[section] = {k: {"value": f.value, "unit": f.unit, "source": f.source, "confirmed": f.confirmed}
                             for k, f in figs.items()}
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
                s: {k: f.__dict__ for k, f in sec.items()} for s, sec in self.figures.items()
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
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TargetError(f"target file {where} is not valid YAML: {exc}") from None
    return parse_target(data, where)


def target_variant(base: str | Path, overrides: dict[str, Any], reason: str, folder: str | Path | None = None) -> Path:
    """Write a copy of target ``base`` with some figures replaced (``{"formats.weight_bits": 6}``) as a YAML file and
    return its path: a "what if" target (fewer weight bits, more chips) that stays data, each replaced figure marked
    unconfirmed with ``reason`` as its source. Validated like any target; an unknown key is a TargetError."""
    import tempfile

    text, where = _read_target_text(str(base))
    data = yaml.safe_load(text)
    name = parse_target(data, where).name
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        figure = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if not isinstance(figure, dict):
            raise TargetError(f"target {where} has no figure '{dotted}' to override")
        figure.update(value=value, source=f"override of {name}: {reason}", confirmed=False)
    label = "-".join(f"{k.split('.')[-1]}{v}" for k, v in overrides.items()).replace(" ", "")
    data["name"] = f"{name}-{label}" if label else name
    out = Path(folder or tempfile.mkdtemp(prefix="snncc-target-")) / f"{data['name']}.yaml"
    parse_target(data, str(out))  # the variant must still be a valid target
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _read_target_text(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise TargetError(f"target file {path} does not exist")
        return path.read_text(), str(path)
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
        raise TargetError(f"target {where}: top level must be a mapping")
    if data.get("schema_version") != SCHEMA_VERSION:
        got = data.get("schema_version")
        raise TargetError(f"target {where}: schema_version must be {SCHEMA_VERSION}, got {got!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise TargetError(f"target {where}: 'name' must be a non-empty string")
    figures: dict[str, dict[str, Figure]] = {}
    for section, keys in REQUIRED_FIGURES.items():
        sec = data.get(section)
        if not isinstance(sec, dict):
            raise TargetError(f"target {where}: missing section '{section}'")
        figures[section] = {}
        for key in keys:
            if key not in sec:
                raise TargetError(f"target {where}: missing figure '{section}.{key}'")
        for key, raw in sec.items():
            figures[section][key] = _parse_figure(raw, f"{section}.{key}", where)
        for key, default in OPTIONAL_FIGURES.get(section, {}).items():
            figures[section].setdefault(key, Figure(**default))
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


def _parse_figure(raw: Any, key: str, where: str) -> Figure:
    if not isinstance(raw, dict):
        raise TargetError(f"target {where}: '{key}' must be a mapping {{value, unit, source, confirmed}}")
    missing = [k for k in ("value", "unit", "source", "confirmed") if k not in raw]
    if missing:
        raise TargetError(f"target {where}: '{key}' lacks {', '.join(missing)}")
    value = raw["value"]
    if key in FLAG_FIGURES:
        if not isinstance(value, bool):
            raise TargetError(f"target {where}: '{key}.value' must be true or false, got {value!r}")
    else:
        numbers = value if isinstance(value, list) else [value]
        if not numbers or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers):
            raise TargetError(f"target {where}: '{key}.value' must be a number or a list of numbers, got {value!r}")
    if not isinstance(raw["confirmed"], bool):
        raise TargetError(f"target {where}: '{key}.confirmed' must be true or false")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise TargetError(f"target {where}: '{key}.source' must name where the figure comes from")
    return Figure(value=value, unit=str(raw["unit"]), source=raw["source"], confirmed=raw["confirmed"])


def _check_consistency(figures: dict[str, dict[str, Figure]], where: str) -> None:
    positive = [("system", "chips"), ("system", "cores_per_chip"), ("core_limits", "neurons"),
                ("core_limits", "memory"), ("core_limits", "input_axons"), ("core_limits", "output_axons"),
                ("formats", "weight_bits"), ("formats", "vth_bits"), ("formats", "bias_mant_bits")]
    for section, key in positive:
        v = figures[section][key].value
        if not isinstance(v, int) or v <= 0:
            raise TargetError(f"target {where}: '{section}.{key}' must be a positive integer, got {v!r}")
    f = figures["formats"]
    if f["weight_exp_min"].value > f["weight_exp_max"].value:
        raise TargetError(f"target {where}: formats.weight_exp_min exceeds formats.weight_exp_max")
    if f["bias_exp_min"].value > f["bias_exp_max"].value:
        raise TargetError(f"target {where}: formats.bias_exp_min exceeds formats.bias_exp_max")
    if not 2 <= f["weight_bits"].value <= 8:
        raise TargetError(f"target {where}: formats.weight_bits must be in 2..8 (Lava Dense mantissa)")
    mesh = figures["system"]["mesh_shape"].value
    cores = figures["system"]["cores_per_chip"].value
    if not (isinstance(mesh, list) and len(mesh) == 2 and mesh[0] * mesh[1] >= cores):
        raise TargetError(f"target {where}: system.mesh_shape must be [rows, cols] holding cores_per_chip cores")


def _parse_primitives(raw: Any, where: str) -> dict[str, Primitive]:
    if not isinstance(raw, dict):
        raise TargetError(f"target {where}: missing section 'primitives'")
    out = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or spec.get("kind") not in PRIMITIVE_KINDS or not spec.get("lava"):
            raise TargetError(f"target {where}: primitive '{name}' needs kind (stock|custom) and lava (process path)")
        out[name] = Primitive(name=name, kind=spec["kind"], lava=spec["lava"])
    for name in REQUIRED_PRIMITIVES:
        if name not in out:
            raise TargetError(f"target {where}: primitive '{name}' is not declared")
    return out
