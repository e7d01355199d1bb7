"""Frontend: load a model file safely and turn it into an IR graph with dt, reset and encoding explicit."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .. import values
from ..errors import ModelLoadError, OptionError
from ..ir import Graph, keys
from .loading import LoadedModel, load_model
from .nir_import import apply_time_semantics, read_nir_file
from .torch_trace import trace_module

__all__ = ["LoadedModel", "apply_time_semantics", "import_model", "load_model", "read_nir_file", "trace_module"]


def import_model(
    source: str | Path | nn.Module | Graph,
    *,
    allow_unsafe: bool = False,
    dt: float | None = None,
    reset: str | None = None,
    timesteps: int | None = None,
) -> Graph:
    """Any supported model source -> IR graph (torch module, .pt file, .nir file, or an IR graph)."""
    if isinstance(source, Graph):
        return apply_time_semantics(source, dt, reset)
    if isinstance(source, nn.Module):
        _torch_states_its_semantics(dt, reset)
        return _from_module(source, timesteps)
    loaded = load_model(source, allow_unsafe=allow_unsafe)
    if loaded.module is not None:
        _torch_states_its_semantics(dt, reset)
        try:
            graph = _from_module(loaded.module, timesteps)
        except AttributeError as exc:  # a module whose saved state lacks what its class sets: a damaged file
            raise ModelLoadError(f"{loaded.path} is damaged or was saved by an incompatible version: a module lacks "
                                 f"an attribute ({exc})") from None
        graph.metadata[keys.SOURCE_FILE] = str(loaded.path)
        return graph
    assert loaded.graph is not None
    graph = apply_time_semantics(loaded.graph, dt, reset)
    graph.metadata[keys.SOURCE_FILE] = str(loaded.path)
    return graph


def _torch_states_its_semantics(dt: float | None, reset: str | None) -> None:
    """--dt and --reset say what a NIR file cannot; a torch model's neurons state both, so either is an error
    rather than silently ignored."""
    for flag, value in (("--dt", dt), ("--reset", reset)):
        if value is not None:
            raise OptionError(f"{flag} applies to NIR files only; a torch model's neurons state their own time "
                              f"step and reset", hint=f"drop {flag}")


def _from_module(module: nn.Module, timesteps: int | None) -> Graph:
    if timesteps is None and getattr(module, "timesteps", None) is not None:
        timesteps = values.count(module.timesteps, "the model's 'timesteps' attribute")
    return trace_module(module, timesteps=timesteps)
