"""Import NIR files (standard nodes) and decide what NIR leaves open: time step, reset, threshold test, scheme.

Every exporter assumes its own answers (snnTorch and SpikingJelly 1e-4 s, Norse 1e-3 s, Sinabs one step; resets
by subtraction that NIR cannot write; ``>=`` tests). snncc never guesses: each answer comes from a flag, from the
library preset the user names (``--from``), or from the file's metadata (snncc writes it); a graph with NIR neurons
whose answer is still open is a one-line error naming the flag. The preset, every choice and who made it, and the
repairs applied are recorded in the graph (``keys.SEMANTICS``) for the bundle and its report.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import nir

from ..errors import GraphError, ModelLoadError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import Graph, keys, read_graph, type_name
from ..ir.checks import check_nir_node
from ..ir.semantics import FIELDS, FLAGS, METADATA_KEYS, NeuronSemantics, problem_with
from .libraries import NAMES, Preset, preset
from .nir_shapes import SUPPORTED_STRUCTURE, normalise

SUPPORTED_NIR = (*SUPPORTED_STRUCTURE, *REGISTRY.nir_types())


@dataclass(frozen=True)
class SemanticsRequest:
    """What the user asked for: a library preset and any of the four choices (None: not given)."""

    library: str | None = None
    dt: float | None = None
    reset: str | None = None
    fire_at_threshold: bool | None = None
    discretization: str | None = None
    max_spikes: int | None = None

    def given(self) -> list[str]:
        """The flags given (a torch model refuses them all)."""
        return ["--from" if f.name == "library" else FLAGS[f.name] for f in fields(self)
                if getattr(self, f.name) is not None]


def read_nir_file(path: Path) -> Graph:
    """Read a NIR (or snncc IR) file; unsupported node types are reported by name."""
    try:
        graph = read_graph(path)
    except GraphError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRNode) and not isinstance(node, (*SUPPORTED_NIR, nir.NIRGraph)):
            raise UnsupportedLayerError(f"NIR node type {type_name(node)} is not supported", layer=name,
                                        hint="supported: " + ", ".join(c.__name__ for c in SUPPORTED_NIR))
    return graph


def decide_semantics(graph: Graph, request: SemanticsRequest | None = None) -> Graph:
    """A copy of ``graph`` with the library's repairs applied, NIR's shapes normalised and the neurons' semantics
    decided and recorded; GraphError naming the flag for an answer nobody gave."""
    request = request or SemanticsRequest()
    g = graph.copy()
    chosen = preset(request.library) if request.library is not None else None
    choices = _choices(g, request, chosen)
    for f, (value, by) in choices.items():
        problem = problem_with(f, value)
        if problem:
            raise GraphError(f"{problem} (given by {by})")
    repairs: list[str] = []
    if chosen is not None:
        dt = choices.get("dt", (None,))[0]
        for repair in chosen.repairs:
            repairs += [f"{repair.name}: {line}" for line in repair.apply(g, dt)]
    g = normalise(g)
    for name, node in g.nodes.items():
        if isinstance(node, nir.NIRNode):
            check_nir_node(name, node, REGISTRY.is_nir_neuron(node))
    if any(REGISTRY.is_nir_neuron(n) for n in g.nodes.values()):
        missing = [f for f in FIELDS if f not in choices]
        if missing:
            raise GraphError(
                f"unknown {', '.join(_WHAT[f] for f in missing)} of the graph's neurons: NIR files do not record "
                f"{'it' if len(missing) == 1 else 'them'}",
                hint=f"pass --from <library> ({', '.join(NAMES)}) or {', '.join(FLAGS[f] for f in missing)}")
        g.metadata.update(NeuronSemantics(*(choices[f][0] for f in FIELDS)).to_metadata())
    g.metadata[keys.SEMANTICS] = _record(chosen, choices, repairs)
    g.metadata.setdefault(keys.SOURCE_KIND, "nir")
    g.validate()
    return g


_WHAT = {"dt": "time step", "reset": "reset rule", "fire_at_threshold": "threshold test (> or >=)",
         "discretization": "integration scheme", "max_spikes": "most spikes per step"}


def _choices(g: Graph, request: SemanticsRequest, chosen: Preset | None) -> dict[str, tuple[Any, str]]:
    """field -> (value, who chose it): a flag over the preset over the file's own metadata."""
    out: dict[str, tuple[Any, str]] = {}
    for f in FIELDS:
        if getattr(request, f) is not None:
            out[f] = (getattr(request, f), FLAGS[f])
        elif chosen is not None and chosen.choice(f) is not None:
            out[f] = (chosen.choice(f), f"--from {chosen.name}")
        elif METADATA_KEYS[f] in g.metadata:
            out[f] = (g.metadata[METADATA_KEYS[f]], "the file's metadata")
    return out


def _record(chosen: Preset | None, choices: dict[str, tuple[Any, str]], repairs: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"preset": chosen.name if chosen else None,
                              "library": chosen.library if chosen else None, "repairs": repairs, "choices": {}}
    for f, (value, by) in choices.items():
        why = chosen.why.get(f, "") if chosen is not None and by.startswith("--from") else ""
        record["choices"][f] = {"value": value, "by": by, "why": why}
    return record
