"""What a backend is, and what every backend checks of its inputs.

A backend runs a compiled network on payloads and returns a :class:`~snncc.backends.reference.trace.SimResult` whose
traces compare entry by entry with every other backend's. It declares which of the compiled graphs it runs (the
integer graph, or the float one) and whether it must agree with the reference simulator bit for bit; ``supports``
says why it cannot run a given network on a given target (None when it can). Backends are found by name in
:mod:`snncc.backends` (``snncc run --backend NAME``); a target lists the ones that apply to it (``backends``).

A neuron family whose layers run on a clock of their own (the sub-step primitive) names, per backend, a runner for
graphs on that clock (``Family.graph_runners``); the backend uses it for the graphs the family claims.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from snncc.families import REGISTRY
from snncc.inputs import check_payloads
from snncc.ir import Graph, InputEncoding
from snncc.target import Target


class Program(Protocol):
    """A compiled network as backends see it (a :class:`snncc.bundle.Bundle` is one)."""

    graph: Graph
    float_graph: Graph
    target: Target
    manifest: dict[str, Any]

    @property
    def netx_path(self) -> Path | None: ...


class Backend(ABC):
    """Runs a compiled network; see the module docstring."""

    name: ClassVar[str]
    describe: ClassVar[str] = ""  # one line for progress messages
    exact: ClassVar[bool] = True  # must equal the reference simulator bit for bit (verify compares it)
    records_states: ClassVar[bool] = True  # its traces hold u and v (else spikes only)
    export: ClassVar[str | None] = None  # the exported file it runs (an exporter's name), if any
    runs_float: ClassVar[bool] = False  # it runs the float graph (the F level), not the integer one

    def supports(self, program: Program) -> str | None:
        """Why this backend cannot run ``program`` (None: it can)."""
        return None

    @abstractmethod
    def run(self, program: Program, inputs: np.ndarray, record_states: bool = False) -> Any:
        """Run payloads (samples, T, n_in); returns a SimResult."""


class Exporter(ABC):
    """Writes a compiled graph as a file another tool loads (a target lists the ones that apply, ``exporters``)."""

    name: ClassVar[str]
    file: ClassVar[str]  # the file it writes in a bundle
    describe: ClassVar[str]  # what the report calls the file

    @abstractmethod
    def write(self, graph: Graph, folder: Path) -> dict:
        """Write ``folder / file``; returns the note the report and manifest keep: ``status``, ``file`` (None when
        not written) and, then, ``reason``."""


def family_runner(backend: str, graph: Graph) -> type | None:
    """The runner class a neuron family provides for ``graph`` on ``backend`` (None: the backend's own)."""
    for fam in REGISTRY:
        path = fam.graph_runners.get(backend)
        if path and fam.claims_graph(graph):
            module, _, attr = path.partition(":")
            return getattr(importlib.import_module(module), attr)
    return None


def check_inputs(inputs: np.ndarray, graph: Graph, encoding: InputEncoding) -> np.ndarray:
    """Validate input payloads (batch, T, n_in) against the graph's input shape and encoding."""
    n_in = int(np.prod(graph.nodes[graph.input_names[0]].input_type["input"]))
    return check_payloads(inputs, n_in, encoding)
