"""Pass infrastructure: a pass declares what it requires and ensures; the manager runs, checks and reports to
instruments.

A pass is a dataclass whose fields are its options (:mod:`.options`); it never mutates its input graph: it works on
``graph.copy()`` and returns the result. Between passes the manager re-validates the graph's structural invariants
and the pass's own ``ensures``; any error is tagged with the pass name. What a run should also do (dump the IR,
time the passes, keep graphs, show progress) is an :class:`Instrument` the manager calls around every pass.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import GraphError, PipelineError, SnnccError
from ..ir import Graph, keys, write_graph
from ..target import Target
from .options import check_options

P = TypeVar("P", bound="Pass")


@dataclass
class PassContext:
    """What passes share: the target, and where they report warnings, notes and lowerings."""

    target: Target
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # per-pass results for the report
    lowerings: dict[str, dict] = field(default_factory=dict)  # layer -> lowering note (from, to, exact, ...)
    # layer -> (level "float" | "deployed" | "integer", what its measured effect is compared with, or None)
    lowering_levels: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    pipeline: tuple[Pass, ...] = ()  # the passes of the run (a pass may read another's options)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.say(f"warning: {message}")

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(message)

    def record_lowering(self, layer: str, note: dict[str, Any], level: str, against: str | None = None) -> None:
        """A layer rewritten onto other primitives: ``level`` says what its measured effect is compared with
        (``float``: the float model, by a float rewrite; ``deployed``: the float model, by the deployed network;
        ``integer``: the integer graph before the rewrite), ``against`` how the report words that."""
        self.lowerings[layer] = note
        self.lowering_levels[layer] = (level, against)

    def find(self, cls: type[P]) -> P:
        """The pass of class ``cls`` in this run, or its defaults when the run has none."""
        return next((p for p in self.pipeline if isinstance(p, cls)), None) or cls()


@dataclass
class Pass(ABC):
    """A graph-to-graph transformation with checked pre- and post-conditions; its fields are its options."""

    name: ClassVar[str]
    optional: ClassVar[bool] = False  # in the default pipeline only when its options ask for it (wanted)
    option_error: ClassVar[type[SnnccError]] = PipelineError  # raised for an option value it does not allow
    # "float": the pass rewrites float graphs; a graph imported already integer (keys.QUANTIZED, a netx file) has
    # nothing for it to do and skips it (recorded in ctx.notes["skipped"]); "any": it runs on every graph
    level: ClassVar[str] = "any"

    def __post_init__(self) -> None:
        check_options(self, self.option_error)

    def wanted(self) -> bool:
        """Whether an optional pass belongs in the default pipeline with these options."""
        return True

    def requires(self, graph: Graph, ctx: PassContext) -> None:  # noqa: B027 - optional hook
        """Raise GraphError when ``graph`` is not a valid input of this pass."""

    def ensures(self, graph: Graph, ctx: PassContext) -> None:  # noqa: B027 - optional hook
        """Raise GraphError when this pass's result breaks its guarantee (a bug in the pass)."""

    @abstractmethod
    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        """Return the transformed graph (a new object; the input stays untouched)."""


class Instrument:
    """Watches a pass-manager run; every hook is optional."""

    def run_start(self, graph: Graph, ctx: PassContext) -> None:  # noqa: B027 - optional hook
        """Before the first pass."""

    def pass_start(self, index: int, total: int, p: Pass, graph: Graph, ctx: PassContext) -> None:  # noqa: B027
        """Before pass ``index`` (1-based) of ``total``."""

    def pass_end(self, index: int, p: Pass, before: Graph, after: Graph, seconds: float,  # noqa: B027
                 ctx: PassContext) -> None:
        """After pass ``index`` turned ``before`` into ``after``."""


class PassManager:
    """Runs a pipeline of passes with invariant checks, telling its instruments about every pass."""

    def __init__(self, passes: Sequence[Pass], instruments: Iterable[Instrument] = ()) -> None:
        names = [p.name for p in passes]
        if len(set(names)) != len(names):
            raise PipelineError(f"a pass appears twice in the pipeline: {names}")
        self.passes = tuple(passes)
        self.instruments = tuple(instruments)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        ctx.pipeline = self.passes
        graph.validate()
        for inst in self.instruments:
            inst.run_start(graph, ctx)
        for index, p in enumerate(self.passes, start=1):
            if p.level == "float" and graph.metadata.get(keys.QUANTIZED):
                ctx.notes.setdefault("skipped", []).append(p.name)
                continue
            for inst in self.instruments:
                inst.pass_start(index, len(self.passes), p, graph, ctx)
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
            seconds = time.perf_counter() - start
            for inst in self.instruments:
                inst.pass_end(index, p, graph, result, seconds, ctx)
            graph = result
        return graph


# ---- instruments -----------------------------------------------------------------------------------------------
class Timings(Instrument):
    """Seconds per pass, by pass name, in pipeline order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pass_end(self, index: int, p: Pass, before: Graph, after: Graph, seconds: float, ctx: PassContext) -> None:
        self.seconds[p.name] = seconds


class Progress(Instrument):
    """One line per pass (``pass 3/8: quantize``) to a callback."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    def pass_start(self, index: int, total: int, p: Pass, graph: Graph, ctx: PassContext) -> None:
        self.say(f"pass {index}/{total}: {p.name}")


class DumpIR(Instrument):
    """The IR before the first pass and after every pass, as ``NN-<pass>.nir`` plus a text listing."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def run_start(self, graph: Graph, ctx: PassContext) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._dump(graph, 0, "input")

    def pass_end(self, index: int, p: Pass, before: Graph, after: Graph, seconds: float, ctx: PassContext) -> None:
        self._dump(after, index, p.name)

    def _dump(self, graph: Graph, index: int, name: str) -> None:
        stem = self.folder / f"{index:02d}-{name}"
        write_graph(stem.with_suffix(".nir"), graph)
        stem.with_suffix(".txt").write_text(graph.summary() + "\n")


class KeepGraph(Instrument):
    """Keeps the graph after the first pass for which ``select(pass, graph)`` holds (``graph`` stays None if none
    does)."""

    def __init__(self, select: Callable[[Pass, Graph], bool]) -> None:
        self.select = select
        self.graph: Graph | None = None

    def pass_end(self, index: int, p: Pass, before: Graph, after: Graph, seconds: float, ctx: PassContext) -> None:
        if self.graph is None and self.select(p, after):
            self.graph = after


class LoweringGraphs(Instrument):
    """For every layer a pass recorded a lowering of: the graphs before and after that pass."""

    def __init__(self) -> None:
        self.graphs: dict[str, tuple[Graph, Graph]] = {}

    def pass_end(self, index: int, p: Pass, before: Graph, after: Graph, seconds: float, ctx: PassContext) -> None:
        for layer in ctx.lowerings:
            self.graphs.setdefault(layer, (before, after))
