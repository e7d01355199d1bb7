"""Frontend: load a model file safely and turn it into an IR graph with dt, reset and encoding explicit."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .. import values
from ..errors import ModelLoadError, OptionError
from ..ir import Graph, keys
from .loading import LoadedModel, load_model
from .nir_import import SemanticsRequest, decide_semantics, read_nir_file
from .torch_trace import trace_module

__all__ = ["LoadedModel", "SemanticsRequest", "decide_semantics", "import_model", "load_model", "read_nir_file",
           "trace_module"]


def import_model(
    source: str | Path | nn.Module | Graph,
    *,
    allow_unsafe: bool = False,
    semantics: SemanticsRequest | None = None,
    timesteps: int | None = None,
) -> Graph:
    """Any supported model source -> IR graph (torch module, .pt file, .nir file, or an IR graph); ``semantics``
    says how a NIR graph's neurons step (a library preset, flags)."""
    semantics = semantics or SemanticsRequest()
    if isinstance(source, Graph):
        return decide_semantics(source, semantics)
    if isinstance(source, nn.Module):
        _torch_states_its_semantics(semantics)
        return _from_module(source, timesteps)
    loaded = load_model(source, allow_unsafe=allow_unsafe)
    if loaded.module is not None:
        _torch_states_its_semantics(semantics)
        try:
            graph = _from_module(loaded.module, timesteps)
        except AttributeError as exc:  # a module whose saved state lacks what its class sets: a damaged file
            raise ModelLoadError(f"{loaded.path} is damaged or was saved by an incompatible version: a module lacks "
                                 f"an attribute ({exc})") from None
        graph.metadata[keys.SOURCE_FILE] = str(loaded.path)
        return graph
    assert loaded.graph is not None
    graph = decide_semantics(loaded.graph, semantics)
    graph.metadata[keys.SOURCE_FILE] = str(loaded.path)
    return graph


def _torch_states_its_semantics(semantics: SemanticsRequest) -> None:
    """--from, --dt, --reset ... say what a NIR file cannot; a torch model's neurons state it all, so any of them
    is an error rather than silently ignored."""
    for flag in semantics.given():
        raise OptionError(f"{flag} applies to NIR files only; a torch model's neurons state their own time "
                          f"step, reset and threshold test", hint=f"drop {flag}")


def _from_module(module: nn.Module, timesteps: int | None) -> Graph:
    if timesteps is None and getattr(module, "timesteps", None) is not None:
        timesteps = values.count(module.timesteps, "the model's 'timesteps' attribute")
    return trace_module(module, timesteps=timesteps)
