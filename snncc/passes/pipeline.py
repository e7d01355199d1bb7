"""Pipelines: the default one, pipelines written as text, and options set by name.

A pipeline is a list of configured passes. As text it is the passes' names in order, each with the options that
differ from its defaults in braces: ``canonicalize,balance-latency,quantize{bias_resolution=fine},partition,place``
(``snncc compile --passes``); :meth:`Pipeline.text` writes every option, which is what a bundle's manifest
records. Options are set by ``"pass.option"`` or, where only one pass has it, by ``"option"``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PipelineError
from .balance_latency import BalanceLatency
from .base import Pass
from .calibrate import Calibrate
from .canonicalize import Canonicalize
from .lower_neurons import LowerNeurons
from .lower_primitives import LowerPrimitives
from .options import format_value, option_fields, option_type, parse_value
from .partition import Partition
from .place import Place
from .quantize import Quantize
from .split_fan_in import SplitFanIn

PASSES: dict[str, type[Pass]] = {
    p.name: p for p in (Canonicalize, BalanceLatency, LowerNeurons, Calibrate, Quantize, SplitFanIn, LowerPrimitives,
                        Partition, Place)
}
"""Every pass by name, in the order of the default pipeline (optional passes only when their options ask)."""

_ITEM = re.compile(r"\s*([A-Za-z][\w-]*)\s*(?:\{([^{}]*)\})?\s*")


@dataclass
class Pipeline:
    """A list of configured passes."""

    passes: list[Pass]

    def __iter__(self) -> Iterator[Pass]:
        return iter(self.passes)

    @classmethod
    def parse(cls, text: str) -> Pipeline:
        """The pipeline ``text`` describes (PipelineError naming the unknown pass or option)."""
        text = text.strip()
        passes, pos = [], 0
        while pos < len(text):
            m = _ITEM.match(text, pos)
            end = m.end() if m else pos
            if m is None or (end < len(text) and text[end] != ","):
                raise PipelineError(f"pipeline text {text!r}: cannot read from {text[end:]!r}",
                                    hint="write name{option=value,...},name,...")
            name, body = m.group(1), m.group(2)
            passes.append(make_pass(name, _parse_options(name, body or "")))
            pos = end + 1
        if not passes:
            raise PipelineError("the pipeline is empty")
        return cls(passes)

    def text(self) -> str:
        """The pipeline as text, every option written out."""
        return ",".join(_pass_text(p) for p in self.passes)

    def configure(self, options: Mapping[str, Any]) -> Pipeline:
        """A copy with ``options`` set (``{"pass.option": value}`` or ``{"option": value}``)."""
        passes = list(self.passes)
        for key, value in options.items():
            name, field = resolve_option(key)
            matches = [i for i, p in enumerate(passes) if p.name == name]
            if not matches:
                raise PipelineError(f"option '{key}': the pipeline has no '{name}' pass")
            i = matches[0]
            passes[i] = dataclasses.replace(passes[i], **{field: value})
        return Pipeline(passes)


def default_pipeline(options: Mapping[str, Any] | None = None) -> Pipeline:
    """canonicalize -> balance-latency -> lower-neurons -> [calibrate] -> quantize -> split-fan-in -> lower-primitives
    -> partition -> place, with ``options`` set; an optional pass (calibrate) only when its options ask for it.

    Every pass reads the target's data (formats, limits, declared primitives), never its name.
    """
    by_pass: dict[str, dict[str, Any]] = {}
    for key, value in (options or {}).items():
        name, field = resolve_option(key)
        by_pass.setdefault(name, {})[field] = value
    passes = [make_pass(name, by_pass.get(name, {})) for name in PASSES]
    return Pipeline([p for p in passes if not p.optional or p.wanted()])


def make_pass(name: str, options: Mapping[str, Any]) -> Pass:
    """Pass ``name`` with ``options`` (PipelineError for an unknown pass or option)."""
    if name not in PASSES:
        raise PipelineError(f"unknown pass '{name}'", hint=f"passes: {', '.join(PASSES)}")
    cls = PASSES[name]
    known = {f.name for f in option_fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise PipelineError(f"pass '{name}' has no option {unknown[0]!r}",
                            hint=f"its options: {', '.join(sorted(known)) or 'none'}")
    return cls(**options)


def resolve_option(key: str) -> tuple[str, str]:
    """``(pass, option)`` of ``"pass.option"``, or of ``"option"`` when exactly one pass has it."""
    if "." in key:
        name, _, field = key.partition(".")
        return name, field
    owners = [name for name, cls in PASSES.items() if key in {f.name for f in option_fields(cls)}]
    if len(owners) != 1:
        raise PipelineError(f"option '{key}' " + ("belongs to no pass" if not owners else
                                                  f"is ambiguous ({', '.join(owners)}); write pass.{key}"))
    return owners[0], key


def _parse_options(name: str, body: str) -> dict[str, Any]:
    cls = PASSES.get(name)
    if cls is None:
        raise PipelineError(f"unknown pass '{name}'", hint=f"passes: {', '.join(PASSES)}")
    fields = {f.name: f for f in option_fields(cls)}
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in body.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise PipelineError(f"pass '{name}': cannot read option {item!r}",
                                hint=f"its options: {', '.join(sorted(fields)) or 'none'}")
        out[key] = parse_value(option_type(cls, fields[key]), value, f"{name}.{key}")
    return out


def _pass_text(p: Pass) -> str:
    options = [f"{f.name}={format_value(getattr(p, f.name))}" for f in option_fields(type(p))]
    return p.name + (f"{{{','.join(options)}}}" if options else "")
