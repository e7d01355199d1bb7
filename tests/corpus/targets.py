"""Target files with values of the wrong type, impossible values, unknown keys, or that are not YAML at all."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

import yaml

from . import Workspace, case


def _compile(ws: Workspace, target: str) -> list[str]:
    return ["compile", str(ws.model()), "--target", target, "-o", str(ws.out), "--samples", "2", "--timesteps", "4"]


def _loihi2() -> dict[str, Any]:
    return yaml.safe_load((files("snncc.targets") / "loihi2.yaml").read_text())


def _target_case(name: str, edit: Callable[[dict[str, Any]], None], *expect: str) -> None:
    @case("target-files", name, "target.yaml", *expect)
    def build(ws: Workspace) -> list[str]:
        data = _loihi2()
        edit(data)
        return _compile(ws, str(ws.write("target.yaml", yaml.safe_dump(data, sort_keys=False))))


def _value(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data[section][key]["value"] = value

    return edit


_target_case("state-bits-zero", _value("formats", "state_bits", 0), "formats.state_bits")
_target_case("state-bits-huge", _value("formats", "state_bits", 64), "formats.state_bits")
_target_case("decay-bits-fraction", _value("formats", "decay_bits", 12.5), "formats.decay_bits", "integer")
_target_case("decay-bits-zero", _value("formats", "decay_bits", 0), "formats.decay_bits")
_target_case("vth-bits-list", _value("formats", "vth_bits", [17, 18]), "formats.vth_bits")
_target_case("weight-bits-nine", _value("formats", "weight_bits", 9), "formats.weight_bits")
_target_case("weight-bits-string", _value("formats", "weight_bits", "8"), "formats.weight_bits")
_target_case("weight-bits-bool", _value("formats", "weight_bits", True), "formats.weight_bits")
_target_case("weight-exp-inverted", lambda d: (_value("formats", "weight_exp_min", 3)(d),
                                               _value("formats", "weight_exp_max", -3)(d)), "weight_exp")
_target_case("bias-exp-fraction", _value("formats", "bias_exp_max", 6.5), "formats.bias_exp_max")
_target_case("graded-payload-negative", _value("formats", "graded_payload_bits", -1), "formats.graded_payload_bits")
_target_case("chips-zero", _value("system", "chips", 0), "system.chips")
_target_case("cores-negative", _value("system", "cores_per_chip", -4), "system.cores_per_chip")
_target_case("mesh-three-numbers", _value("system", "mesh_shape", [8, 16, 2]), "system.mesh_shape")
_target_case("mesh-too-small", _value("system", "mesh_shape", [2, 2]), "system.mesh_shape")
_target_case("neurons-fraction", _value("core_limits", "neurons", 8192.5), "core_limits.neurons")
_target_case("memory-nan", _value("core_limits", "memory", float("nan")), "core_limits.memory")
_target_case("synapse-bits-zero", _value("memory_model", "synapse_bits", 0), "memory_model.synapse_bits")
_target_case("synapse-steps-zero", _value("latency", "synapse_steps", 0), "latency.synapse_steps")
_target_case("energy-negative", _value("energy", "synop", -6.8), "energy.synop", "negative")
_target_case("static-power-negative", _value("energy", "static_power_per_chip", -1.0), "static_power_per_chip")
_target_case("energy-inf", _value("energy", "spike_hop", float("inf")), "energy.spike_hop")
_target_case("time-step-zero", _value("timing", "time_step", 0), "timing.time_step")
_target_case("paper-mac-negative", _value("paper_convention", "mac", -4.6), "paper_convention.mac")
_target_case("flag-as-number", _value("memory_model", "conv_weight_sharing", 1), "conv_weight_sharing")
_target_case("missing-section", lambda d: d.pop("energy"), "energy")
_target_case("missing-figure", lambda d: d["formats"].pop("state_bits"), "formats.state_bits")
_target_case("figure-not-mapping", lambda d: d["formats"].__setitem__("state_bits", 24), "formats.state_bits")
_target_case("figure-lacks-source", lambda d: d["formats"]["state_bits"].pop("source"), "state_bits", "source")
_target_case("confirmed-as-text", lambda d: d["formats"]["state_bits"].__setitem__("confirmed", "yes"),
             "state_bits", "confirmed")
_target_case("unknown-section", lambda d: d.__setitem__("formts", {}), "formts")
_target_case("unknown-figure", lambda d: d["formats"].__setitem__(
    "wieght_bits", {"value": 8, "unit": "bits", "source": "typo", "confirmed": False}), "formats.wieght_bits")
_target_case("schema-version-two", lambda d: d.__setitem__("schema_version", 2), "schema_version")
_target_case("name-empty", lambda d: d.__setitem__("name", ""), "name")
_target_case("primitive-without-lava", lambda d: d["primitives"]["dense"].pop("lava"), "dense")
_target_case("primitive-unknown-kind", lambda d: d["primitives"]["dense"].__setitem__("kind", "magic"), "dense")
_target_case("backend-unknown", lambda d: d.__setitem__("backends", ["reference", "quantum"]), "quantum")


def _raw_case(name: str, text: bytes, *expect: str) -> None:
    @case("target-files", name, "target.yaml", *expect)
    def build(ws: Workspace) -> list[str]:
        return _compile(ws, str(ws.write("target.yaml", text)))


_raw_case("yaml-syntax-error", b"name: loihi2\nformats: {weight_bits: [\n  :- x\n", "not valid YAML")
_raw_case("binary-file", bytes(range(256)), "target.yaml")
_raw_case("empty-file", b"", "mapping")
_raw_case("top-level-list", b"- 1\n- 2\n", "mapping")


@case("target-files", "empty-name", "--target", "empty")
def _empty(ws: Workspace) -> list[str]:
    return _compile(ws, "")


@case("target-files", "unknown-name", "loihi9", "built-in targets")
def _unknown(ws: Workspace) -> list[str]:
    return _compile(ws, "loihi9")


@case("target-files", "missing-file", "mine.yaml", "does not exist")
def _missing(ws: Workspace) -> list[str]:
    return _compile(ws, str(ws.root / "mine.yaml"))


@case("target-files", "directory", "is a folder")
def _directory(ws: Workspace) -> list[str]:
    (ws.root / "tgt.yaml").mkdir()
    return _compile(ws, str(ws.root / "tgt.yaml"))
_target_case("primitive-lava-not-text", lambda d: d["primitives"]["dense"].__setitem__("lava", [1, 2]), "dense",
             "dotted")
