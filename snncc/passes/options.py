"""Typed pass options: each option is a dataclass field of its pass, with its default, help and command-line flag
written once; the pipeline text (``quantize{bias_resolution=fine}``) and ``snncc compile``'s flags are read from
the fields.

An option's type says what it accepts: ``Literal[...]`` a choice (checked when the pass is made), ``int``,
``float``, ``bool``, ``str``, or a union with ``None`` ("not given"). A neuron family can add a choice to a pass
(:class:`snncc.families.base.Option`); :func:`with_family_options` makes it a field like any other.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import Field, field
from typing import Any, Literal

import numpy as np

from ..errors import PipelineError, SnnccError
from ..families import REGISTRY


def option(default: Any, *, help: str, cli: str | None = None) -> Any:
    """A pass option: a dataclass field with its help text and (optionally) its command-line flag."""
    return field(default=default, metadata={"help": help, "cli": cli})


def option_fields(cls: type) -> list[Field]:
    """The options of a pass class (its dataclass fields)."""
    return list(dataclasses.fields(cls))


def option_type(cls: type, f: Field) -> Any:
    """The resolved type of option ``f`` of pass class ``cls``."""
    return typing.get_type_hints(cls)[f.name]


def choices(tp: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal`` type (or of ``Literal[...] | None``), else None."""
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = choices(arg)
            if found is not None:
                return found
    return None


def scalar_type(tp: Any) -> type:
    """What a command-line value of option type ``tp`` is read as: ``int``, ``float`` or ``str`` (a path)."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    return next((kind for kind in (int, float) if kind in args), str)


def check_options(p: Any, error: type[SnnccError]) -> None:
    """``error`` naming the option when a choice option holds a value it does not allow."""
    cls = type(p)
    for f in option_fields(cls):
        allowed = choices(option_type(cls, f))
        value = getattr(p, f.name)
        if allowed is not None and value is not None and value not in allowed:
            raise error(f"{f.name} must be one of {allowed}, got {value!r}", layer=None)


def parse_value(tp: Any, text: str, where: str) -> Any:
    """The value of option type ``tp`` that pipeline text ``text`` stands for."""
    text = text.strip()
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    if text == "None" and type(None) in args:
        return None
    allowed = choices(tp)
    if allowed is not None:
        if text not in allowed:
            raise PipelineError(f"{where} must be one of {allowed}, got {text!r}")
        return text
    for kind in args:
        if kind is bool:
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
        elif kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                continue
        elif kind is str:
            return text
    raise PipelineError(f"{where}: {text!r} is not a {tp}")


def format_value(value: Any) -> str:
    """How an option's value is written in pipeline text (an array by its shape: it cannot be written back)."""
    if isinstance(value, np.ndarray):
        return f"<array {'x'.join(str(s) for s in value.shape)}>"
    return str(value)


def with_family_options(cls: type, stage: str) -> type:
    """Pass class ``cls`` with one more option field per choice the families add to ``stage``
    (``Literal[choices]``, the family's default)."""
    extra = [(o.name, Literal[o.choices], option(o.default, help=o.help, cli=f"--{o.name.replace('_', '-')}"))
             for o in REGISTRY.options(stage)]
    made = dataclasses.make_dataclass(cls.__name__, extra, bases=(cls,), namespace={"__doc__": cls.__doc__,
                                                                                     "__module__": cls.__module__})
    return made
