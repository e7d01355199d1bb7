"""Checks of the values inside standard NIR nodes, run where a NIR file enters (before any pass).

NIR's own constructors accept almost anything (strings, NaN, mismatched lengths); a broken exporter or a hand-edited
file would otherwise fail deep in a pass, or worse, compile to nonsense. Every rule names the node and the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import nir
import numpy as np

from ..errors import GraphError

SKIPPED_FIELDS = ("metadata", "input_type", "output_type")
INTEGER_FIELDS = ("stride", "padding", "dilation", "groups", "kernel_size", "input_shape", "start_dim", "end_dim")


def check_nir_node(name: str, node: Any, is_neuron: bool) -> None:
    """GraphError unless every numeric field of ``node`` is real, finite and of a consistent shape; ``is_neuron``:
    the node is a NIR neuron (its parameter arrays share one shape, its time constants are positive)."""
    arrays = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in SKIPPED_FIELDS or value is None or isinstance(value, str) and f.name == "padding":
            continue
        arrays[f.name] = _numeric(name, f.name, value, integer=f.name in INTEGER_FIELDS)
    if isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)):
        _check_synapse(name, node, arrays)
    if is_neuron:
        _check_neuron(name, arrays)


def check_stored_fields(name: str, fields: dict[str, Any]) -> None:
    """Refuse text or objects where a stored NIR node has numbers, before NIR's constructor trips over them."""
    for field, value in fields.items():
        if field in SKIPPED_FIELDS or field == "padding" or isinstance(value, dict):
            continue
        if isinstance(value, str) or np.asarray(value).dtype.kind in "USO":
            raise GraphError(f"field '{field}' holds text, not numbers", layer=name)


def _numeric(node: str, field: str, value: Any, integer: bool) -> np.ndarray:
    x = np.asarray(value)
    kind = x.dtype.kind
    if kind in "USO":
        raise GraphError(f"field '{field}' holds {'text' if kind in 'US' else 'objects'}, not numbers", layer=node)
    if kind == "c":
        raise GraphError(f"field '{field}' holds complex values; a chip takes real numbers", layer=node)
    if kind == "b":
        raise GraphError(f"field '{field}' holds booleans, not numbers", layer=node)
    if kind == "f" and not np.all(np.isfinite(x)):
        raise GraphError(f"field '{field}' holds {int(np.sum(~np.isfinite(x)))} values that are not finite "
                         "(NaN or inf)", layer=node)
    if integer and kind == "f" and not np.array_equal(x, np.round(x)):
        raise GraphError(f"field '{field}' must hold integers, got {x.tolist()}", layer=node)
    return x


def _check_synapse(name: str, node: Any, arrays: dict[str, np.ndarray]) -> None:
    w = arrays["weight"]
    dims = 4 if isinstance(node, nir.Conv2d) else 2
    if w.ndim != dims or 0 in w.shape:
        raise GraphError(f"field 'weight' must be a non-empty {dims}-D array, got shape {w.shape}", layer=name)
    bias = arrays.get("bias")
    if bias is not None and bias.ndim > 0 and bias.shape != (w.shape[0],):
        raise GraphError(f"field 'bias' has shape {bias.shape}, but the weight gives {w.shape[0]} outputs",
                         layer=name)


def _check_neuron(name: str, arrays: dict[str, np.ndarray]) -> None:
    shaped = [(k, a.shape) for k, a in arrays.items() if a.ndim > 0]
    for k, shape in shaped[1:]:
        if shape != shaped[0][1]:
            raise GraphError(f"fields '{shaped[0][0]}' {shaped[0][1]} and '{k}' {shape} differ in shape; a neuron's "
                             "parameters are one value per neuron", layer=name)
    for k, a in arrays.items():
        if k.startswith("tau") and np.any(a <= 0):
            raise GraphError(f"field '{k}' (a time constant) must be positive, got {a.min():g}", layer=name)
