"""Pass infrastructure: a pass declares what it requires and ensures; the manager runs, checks and dumps.

A pass never mutates its input graph: it works on ``graph.copy()`` and returns the result. Between passes the
manager re-validates the graph's structural invariants and the pass's own ``ensures``; with ``dump_dir`` set it
writes the IR after every pass (``NN-<pass>.nir`` plus a text listing). Any error is tagged with the pass name.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import GraphError, SnnccError
from ..ir import Graph, write_graph
from ..target import Target


@dataclass
class PassContext:
    """What passes share: the target, options, and where they report warnings, notes and timings."""

    target: Target
    options: dict[str, Any] = field(default_factory=dict)
    dump_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # per-pass results for the report
    timings: dict[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    keep: set[str] = field(default_factory=set)  # names of passes whose result to keep in ``snapshots``
    snapshots: dict[str, Graph] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.progress:
            self.progress(f"warning: {message}")


class Pass(ABC):
    """A graph-to-graph transformation with checked pre- and post-conditions."""

    name: ClassVar[str]

    def requires(self, graph: Graph, ctx: PassContext) -> None:  # noqa: B027 - optional hook
        """Raise GraphError when ``graph`` is not a valid input of this pass."""

    def ensures(self, graph: Graph, ctx: PassContext) -> None:  # noqa: B027 - optional hook
        """Raise GraphError when this pass's result breaks its guarantee (a bug in the pass)."""

    @abstractmethod
    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        """Return the transformed graph (a new object; the input stays untouched)."""


class PassManager:
    """Runs a pipeline of passes with invariant checks, optional IR dumps and per-pass timings."""

    def __init__(self, passes: list[Pass]) -> None:
        names = [p.name for p in passes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate pass names in pipeline: {names}")
        self.passes = passes

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        graph.validate()
        if ctx.dump_dir is not None:
            ctx.dump_dir.mkdir(parents=True, exist_ok=True)
            _dump(graph, ctx.dump_dir, 0, "input")
        for index, p in enumerate(self.passes, start=1):
            if ctx.progress:
                ctx.progress(f"pass {index}/{len(self.passes)}: {p.name}")
            start = time.perf_counter()
            try:
                p.requires(graph, ctx)
                result = p.run(graph, ctx)
                result.validate()
                p.ensures(result, ctx)
            except SnnccError as exc:
                exc.args = (f"in pass '{p.name}': {exc.args[0]}",) + exc.args[1:]
                exc.pass_name = p.name  # type: ignore[attr-defined]
                raise
            except Exception as exc:
                exc.add_note(f"while running snncc pass '{p.name}'")
                raise
            if result is graph:
                raise GraphError(f"pass '{p.name}' returned its input graph instead of a new one")
            ctx.timings[p.name] = time.perf_counter() - start
            graph = result
            if p.name in ctx.keep:
                ctx.snapshots[p.name] = graph
            if ctx.dump_dir is not None:
                _dump(graph, ctx.dump_dir, index, p.name)
        return graph


def _dump(graph: Graph, folder: Path, index: int, name: str) -> None:
    stem = folder / f"{index:02d}-{name}"
    write_graph(stem.with_suffix(".nir"), graph)
    stem.with_suffix(".txt").write_text(graph.summary() + "\n")
