"""``snncc compile``: model -> IR -> passes -> bundle (graph, float graph, exported files, manifest, reports).

What the compile does is a pipeline of configured passes (:mod:`snncc.passes`; the default one, or the caller's);
how it runs (time steps, the inputs behind the activity figures, IR dumps...) is :class:`Options`.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from . import values
from ._version import __version__
from .backends import target_backends, target_exporters
from .backends.base import Exporter
from .bundle import (
    FLOAT_GRAPH_FILE,
    GRAPH_FILE,
    MANIFEST,
    Bundle,
    check_destination,
    sha256,
    write_atomically,
    write_json,
)
from .errors import PipelineError
from .fidelity import compare_float_int, measure_lowerings
from .frontend import SemanticsRequest, import_model
from .inputs import check_payloads, load_inputs, random_inputs, trace_values
from .ir import Graph, InputEncoding, IntegerNeuron, keys, write_graph
from .outputs import remove_tree
from .passes import (
    DumpIR,
    KeepGraph,
    LoweringGraphs,
    PassContext,
    PassManager,
    Pipeline,
    Progress,
    Quantize,
    Timings,
    default_pipeline,
)
from .reports import CORE_MAP_FILE, energy_report, plot_core_map, render_markdown, render_summary, resource_report
from .target import Target, load_target

DEFAULT_TIMESTEPS = 16
ACTIVITY_SAMPLES = 16
# what every bundle needs: the float model, the integer graph, each layer's target primitive, its cores
BUNDLE_PASSES = ("canonicalize", "quantize", "lower-primitives", "partition", "place")
VERSIONED_PACKAGES = ("torch", "nir", "numpy", "lava-nc", "lava-dl", "networkx", "h5py")


@dataclass
class Options:
    """How a compile runs. What the passes do is their own options: ``passes`` sets them by name on the default
    pipeline (``{"quantize.bias_resolution": "fine"}``, or ``{"bias_resolution": "fine"}`` where only one pass has
    the option), or on the pipeline given to :func:`compile_model`."""

    timesteps: int | None = None  # steps per inference (default: the model's, else 16)
    semantics: SemanticsRequest = field(default_factory=SemanticsRequest)  # how a NIR file's neurons step
    allow_unsafe_pickle: bool = False  # load a .pt file needing classes outside the allow-list (runs its code)
    inputs: np.ndarray | str | Path | None = None  # payloads for the activity and fidelity figures (else random)
    samples: int = ACTIVITY_SAMPLES  # random samples when ``inputs`` is None
    seed: int = 0
    dump_ir: bool = False  # the IR after every pass in the bundle's ir/ folder
    force: bool = False  # replace an output folder that is not exactly an snncc bundle (its files are lost)
    passes: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """OptionError naming the option (as the command line spells it) whose value is out of range."""
        if self.timesteps is not None:
            values.count(self.timesteps, "--timesteps")
        values.count(self.samples, "--samples")
        values.seed(self.seed)
        if self.semantics.dt is not None:
            values.positive(self.semantics.dt, "--dt")


def compile_model(
    source: str | Path | nn.Module | Graph,
    target: str | Path = "loihi2",
    out_dir: str | Path | None = None,
    options: Options | None = None,
    *,
    pipeline: str | Pipeline | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Compile ``source`` for ``target``; write the bundle to ``out_dir`` when given (atomically).

    ``pipeline`` replaces the default pipeline (a :class:`Pipeline` or its text, ``snncc compile --passes``);
    ``options.passes`` are set on whichever runs. ``progress`` receives one line per step.
    """
    opts = options or Options()
    opts.check()
    say = progress or (lambda _msg: None)
    clock = _Stopwatch()
    if out_dir is not None:  # before any work: a folder that cannot be written, or must not be replaced
        check_destination(out_dir, opts.force)
    tgt = load_target(target)
    target_backends(tgt)  # before any work: a bad name in the target's lists is its file's error
    chosen = target_exporters(tgt)
    say(f"target {tgt.name} ({tgt.path})")
    graph = import_model(source, allow_unsafe=opts.allow_unsafe_pickle, semantics=opts.semantics,
                         timesteps=opts.timesteps)
    t_steps = int(opts.timesteps or graph.metadata.get(keys.TIMESTEPS) or DEFAULT_TIMESTEPS)
    if opts.inputs is None:
        values.check_memory(opts.samples, t_steps, trace_values(graph), "the activity measurement of the compile")
    graph.metadata[keys.TIMESTEPS] = t_steps
    clock.lap("import")
    say(f"imported {len(graph.nodes)} nodes from {_describe(source)}")
    passes = _pipeline(pipeline, opts.passes)
    ctx = PassContext(target=tgt, progress=say)
    timings, lowered = Timings(), LoweringGraphs()
    float_model = KeepGraph(lambda _p, g: bool(g.metadata.get(keys.CANONICAL)) and not g.metadata.get(keys.QUANTIZED))
    instruments = [Progress(say), timings, float_model, lowered]
    dump_dir = Path(tempfile.mkdtemp(prefix="snncc-ir-")) if (opts.dump_ir and out_dir is not None) else None
    if dump_dir is not None:
        instruments.append(DumpIR(dump_dir))
    try:
        final = PassManager(passes.passes, instruments).run(graph, ctx)
        clock.lap("passes")
        float_graph = float_model.graph  # the F level: what the trained model computes
        if float_graph is None and graph.metadata.get(keys.QUANTIZED):
            float_graph = graph  # imported integer (netx): the file's integer network is the model
        if float_graph is None:
            raise PipelineError(f"the pipeline '{passes.text()}' never makes the canonical float graph (the float "
                                "model every comparison needs)", hint="start it with canonicalize")
        bundle = Bundle(graph=final, float_graph=float_graph, target=tgt, manifest={}, path=None)
        x, activity = _activity_inputs(opts, bundle, t_steps)
        say(f"measuring activity on {len(x)} {activity} samples (reference simulator)")
        report = _report(bundle, x, activity, source, ctx, lowered, timings, t_steps, clock)
        _write(bundle, out_dir, source, report, chosen, passes, timings, dump_dir, t_steps, opts.force)
    finally:
        if dump_dir is not None:
            remove_tree(dump_dir)
    if out_dir is not None:
        say(f"wrote bundle {out_dir}")
    return bundle


def _pipeline(pipeline: str | Pipeline | None, options: dict[str, Any]) -> Pipeline:
    if pipeline is None:
        return default_pipeline(options)
    chosen = Pipeline.parse(pipeline) if isinstance(pipeline, str) else pipeline
    names = [p.name for p in chosen]
    missing = [name for name in BUNDLE_PASSES if name not in names]
    if missing:
        raise PipelineError(f"the pipeline '{chosen.text()}' has no {missing[0]} pass, which every bundle needs",
                            hint=f"a pipeline includes {', '.join(BUNDLE_PASSES)}")
    return chosen.configure(options)


def _activity_inputs(opts: Options, bundle: Bundle, timesteps: int) -> tuple[np.ndarray, str]:
    if opts.inputs is None:
        return random_inputs(bundle.encoding, bundle.n_inputs, opts.samples, timesteps, opts.seed), "random"
    if isinstance(opts.inputs, (str, Path)):
        x = load_inputs(opts.inputs, bundle.n_inputs, bundle.encoding)
    else:
        x = check_payloads(opts.inputs, bundle.n_inputs, bundle.encoding, "Options.inputs")
    return x, "given"  # bundle.run guards the memory its traces take


def _report(bundle: Bundle, x: np.ndarray, activity: str, source: Any, ctx: PassContext, lowered: LoweringGraphs,
            timings: Timings, t_steps: int, clock: _Stopwatch) -> dict[str, Any]:
    """The compile report: resources, energy, quantization, fidelity and lowerings, measured on ``x``."""
    final, float_graph, tgt = bundle.graph, bundle.float_graph, bundle.target
    int_run = bundle.run(x, "reference", record_states=True)  # the counts that need states: active updates
    clock.lap("reference_simulation")
    float_run = bundle.run(x, "float")
    clock.lap("float_simulation")
    lowering = measure_lowerings(ctx.lowerings, ctx.lowering_levels, lowered.graphs, x, float_graph, float_run, final,
                                 int_run, tgt.neuron_format)
    clock.lap("lowering_measurement")
    resources = resource_report(final, tgt)
    clock.lap("resource_report")
    energy = energy_report(final, int_run.counts, tgt, int_run.batch, t_steps * int_run.substeps,
                           int_run.latency * int_run.substeps)
    clock.lap("energy_report")
    report = {
        "model": _describe(source), "target": tgt.name, "timesteps": t_steps,
        "input": InputEncoding.from_metadata(final.metadata).to_dict(),
        "activity_inputs": activity,
        "resources": resources,
        "substeps": int_run.substeps,
        "energy": energy,
        "quantization": {"layers": ctx.notes.get("quantize", {}), "bias_resolution": ctx.find(Quantize).bias_resolution,
                         "calibration": ctx.notes.get("calibrate", {"method": "max", "samples": 0, "layers": {}})},
        "fidelity": compare_float_int(float_graph, float_run, final, int_run),
        "lowering": lowering,
        "fan_in_split": ctx.notes.get("split-fan-in", {}),
        "primitives": _primitives(final),
        "semantics": float_graph.metadata.get(keys.SEMANTICS),
        "warnings": list(ctx.warnings),
        "pass_timings": {k: round(v, 6) for k, v in timings.seconds.items()},
    }
    clock.lap("fidelity_report")
    report["stage_timings"] = clock.laps
    return report


def _write(bundle: Bundle, out_dir: str | Path | None, source: Any, report: dict[str, Any],
           chosen: dict[str, Exporter], passes: Pipeline, timings: Timings, dump_dir: Path | None,
           t_steps: int, force: bool) -> None:
    """The bundle's files, written atomically (or, without a folder, only its manifest in memory); ``chosen``:
    the target's exporters."""
    tgt = bundle.target

    def manifest() -> dict[str, Any]:
        return _manifest(source, tgt, bundle.graph, t_steps, {n: report[n] for n in chosen}, passes, timings)

    report["exports"] = {name: exporter.describe for name, exporter in chosen.items()}
    if out_dir is None:
        for name in chosen:
            report[name] = {"status": "not written (no output folder)"}
        bundle.manifest.update(manifest())
    else:
        def fill(folder: Path) -> None:
            write_graph(folder / GRAPH_FILE, bundle.graph)
            write_graph(folder / FLOAT_GRAPH_FILE, bundle.float_graph)
            for name, exporter in chosen.items():
                report[name] = exporter.write(bundle.graph, folder)
            report["resources"]["core_map"] = CORE_MAP_FILE
            plot_core_map(report["resources"], tuple(tgt.value("system", "mesh_shape")), folder / CORE_MAP_FILE)
            write_json(folder / "report.json", report)
            (folder / "report.md").write_text(render_markdown(report))
            if dump_dir is not None:
                shutil.copytree(dump_dir, folder / "ir")
            files = [p.name for p in sorted(folder.iterdir()) if p.is_file()]
            bundle.manifest.update(manifest())
            bundle.manifest["files"] = {name: sha256(folder / name) for name in files}
            write_json(folder / MANIFEST, bundle.manifest)

        write_atomically(Path(out_dir), fill, force=force)
        bundle.path = Path(out_dir)
    bundle.manifest["report"] = report


class _Stopwatch:
    """Wall-clock seconds of the stages of one compile (import, passes, simulations, reports), for the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 6)
        self._last = now


def summary(bundle: Bundle) -> str:
    """The terminal summary of a freshly compiled bundle."""
    return render_summary(bundle.manifest["report"])


def _primitives(graph: Graph) -> dict[str, dict[str, str]]:
    """The target primitive each neuron layer runs on (as lower-primitives recorded it), and whether it is stock
    Lava or snncc's own."""
    out = {}
    for name, node in graph.nodes.items():
        prim = node.metadata.get(keys.PRIMITIVE) if isinstance(node, IntegerNeuron) else None
        if prim:
            out[name] = {"primitive": prim["name"], "kind": prim["kind"], "lava": prim["lava"].rsplit(".", 1)[-1],
                         "reset": node.reset_mode}
    return out


def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return Path(source).name
    return type(source).__name__


def _manifest(source: Any, tgt: Target, graph: Graph, timesteps: int, exported: dict[str, dict], passes: Pipeline,
              timings: Timings) -> dict[str, Any]:
    src: dict[str, Any] = {"description": _describe(source)}
    if isinstance(source, (str, Path)) and Path(source).is_file():
        src.update(path=str(source), sha256=sha256(Path(source)))
    versions = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "format": 1, "snncc_version": __version__, "created": datetime.now(UTC).isoformat(),
        "source": src, "target": {"name": tgt.name, "data": tgt.to_yaml_data()}, "timesteps": timesteps,
        "input": InputEncoding.from_metadata(graph.metadata).to_dict(),
        "latency_steps": max(graph.synapse_depth().values()) if graph.nodes else 0,
        "pipeline": passes.text(), **exported, "versions": versions,
        "python": platform.python_version(), "compile_seconds": round(sum(timings.seconds.values()), 4),
    }
