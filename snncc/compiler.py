"""``snncc compile``: model -> IR -> passes -> bundle (graph, float graph, netx file, manifest, reports)."""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from . import __version__
from .bundle import FLOAT_GRAPH_FILE, GRAPH_FILE, MANIFEST, NETX_FILE, Bundle, sha256, write_atomically, write_json
from .errors import BackendUnavailableError, UnsupportedLayerError, VerificationError
from .fidelity import compare_float_int, compare_layers
from .frontend import import_model
from .inputs import load_inputs, random_inputs
from .ir import INT_NEURONS, Graph, InputEncoding, write_graph
from .passes import PassContext, PassManager, default_pipeline
from .passes.lower_primitives import required_primitive
from .reports import energy_report, render_markdown, render_summary, resource_report
from .target import load_target

DEFAULT_TIMESTEPS = 16
ACTIVITY_SAMPLES = 16
VERSIONED_PACKAGES = ("torch", "nir", "numpy", "lava-nc", "lava-dl", "networkx", "h5py")


def compile_model(
    source: str | Path | nn.Module | Graph,
    target: str | Path = "loihi2",
    out_dir: str | Path | None = None,
    *,
    allow_unsafe: bool = False,
    dt: float | None = None,
    reset: str | None = None,
    timesteps: int | None = None,
    inputs: np.ndarray | str | Path | None = None,
    samples: int = ACTIVITY_SAMPLES,
    seed: int = 0,
    bias_resolution: str = "weight",
    arlif: str = "program",
    multilevel: str = "population",
    calibration: np.ndarray | str | Path | None = None,
    calibrate_method: str | None = None,
    calibrate_percentile: float | None = None,
    dump_ir: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Compile ``source`` for ``target``; write the bundle to ``out_dir`` when given (atomically).

    ``inputs`` (payloads, or a .npy/.npz path) drive the activity measurement behind the energy report and the
    float-vs-integer summary; without them ``samples`` random inputs of the model's encoding are used.
    ``arlif`` chooses AR-LIF's lowering: ``program`` (snncc's integer AR-LIF program) or ``stock`` (an approximating
    stock LIF). ``multilevel`` chooses the multi-level lowering on targets without graded spikes: ``population``
    (``levels`` binary neurons per neuron) or ``substep`` (binary bursts, ``levels`` target steps per time step).
    ``calibration`` (payloads, or a .npy/.npz path, like ``inputs``) drives the calibrate pass: per-layer weight
    clips by ``calibrate_method`` (``max``, ``percentile`` or ``search``, the default with data) and
    rounding-corrected decays; see :mod:`snncc.passes.calibrate`.
    """
    say = progress or (lambda _msg: None)
    clock = _Stopwatch()
    tgt = load_target(target)
    say(f"target {tgt.name} ({tgt.path})")
    graph = import_model(source, allow_unsafe=allow_unsafe, dt=dt, reset=reset, timesteps=timesteps)
    t_steps = int(timesteps or graph.metadata.get("timesteps") or DEFAULT_TIMESTEPS)
    if t_steps < 1 or samples < 1:
        raise VerificationError(f"timesteps and samples must be at least 1 (got {t_steps} and {samples})")
    graph.metadata["timesteps"] = t_steps
    clock.lap("import")
    say(f"imported {len(graph.nodes)} nodes from {_describe(source)}")
    options = {"bias_resolution": bias_resolution, "arlif": arlif, "multilevel": multilevel,
               "calibrate_method": calibrate_method}
    if calibration is not None:
        options["calibration"] = load_inputs(calibration) if isinstance(calibration, (str, Path)) else calibration
        say(f"calibration data: {len(options['calibration'])} samples")
    if calibrate_percentile is not None:
        options["calibrate_percentile"] = calibrate_percentile
    ctx = PassContext(target=tgt, options=options, progress=say,
                      keep={"canonicalize", "lower-neurons", "quantize"})
    dump_dir = Path(tempfile.mkdtemp(prefix="snncc-ir-")) if (dump_ir and out_dir is not None) else None
    ctx.dump_dir = dump_dir
    calibrate = (calibration is not None or calibrate_method not in (None, "max")
                 or calibrate_percentile is not None)  # a percentile alone asks for the percentile rule
    final = PassManager(default_pipeline(tgt, calibrate=calibrate)).run(graph, ctx)
    clock.lap("passes")
    float_graph = ctx.snapshots["canonicalize"]  # the F level: what the trained model computes

    enc = InputEncoding.from_metadata(final.metadata)
    n_in = int(np.prod(final.nodes[final.input_names[0]].input_type["input"]))
    if inputs is None:
        x, activity = random_inputs(enc, n_in, samples, t_steps, seed), "random"
    else:
        x, activity = (load_inputs(inputs) if isinstance(inputs, (str, Path)) else np.asarray(inputs)), "given"
    bundle = Bundle(graph=final, float_graph=float_graph, target=tgt, manifest={}, path=None)
    say(f"measuring activity on {len(x)} {activity} samples (reference simulator)")
    int_run = bundle.run(x, "reference")
    clock.lap("reference_simulation")
    float_run = bundle.run(x, "float")
    clock.lap("float_simulation")
    lowering = measure_lowerings(ctx, x, float_run, int_run, final)
    clock.lap("lowering_measurement")
    resources = resource_report(final, tgt)
    clock.lap("resource_report")
    energy = energy_report(final, int_run.counts, tgt, int_run.batch, t_steps * int_run.substeps,
                           int_run.latency * int_run.substeps)
    clock.lap("energy_report")
    report = {
        "model": _describe(source), "target": tgt.name, "timesteps": t_steps, "input": enc.to_dict(),
        "activity_inputs": activity,
        "resources": resources,
        "substeps": int_run.substeps,
        "energy": energy,
        "quantization": {"layers": ctx.notes.get("quantize", {}), "bias_resolution": bias_resolution,
                         "calibration": ctx.notes.get("calibrate", {"method": "max", "samples": 0, "layers": {}})},
        "fidelity": compare_float_int(float_graph, float_run, final, int_run),
        "lowering": lowering,
        "primitives": _primitives(final, tgt),
        "warnings": list(ctx.warnings),
        "pass_timings": {k: round(v, 6) for k, v in ctx.timings.items()},
    }
    clock.lap("fidelity_report")
    report["stage_timings"] = clock.laps
    netx_note = {"status": "not written (no output folder)"}
    if out_dir is not None:
        def fill(folder: Path) -> None:
            nonlocal netx_note
            write_graph(folder / GRAPH_FILE, final)
            write_graph(folder / FLOAT_GRAPH_FILE, float_graph)
            netx_note = _write_netx(final, folder / NETX_FILE)
            report["netx"] = netx_note
            write_json(folder / "report.json", report)
            (folder / "report.md").write_text(render_markdown(report))
            if dump_dir is not None:
                shutil.copytree(dump_dir, folder / "ir")
            files = [p.name for p in sorted(folder.iterdir()) if p.is_file()]
            bundle.manifest.update(_manifest(source, tgt, final, t_steps, netx_note, ctx, report))
            bundle.manifest["files"] = {name: sha256(folder / name) for name in files}
            write_json(folder / MANIFEST, bundle.manifest)

        try:
            write_atomically(Path(out_dir), fill)
        finally:
            if dump_dir is not None:
                shutil.rmtree(dump_dir, ignore_errors=True)
        bundle.path = Path(out_dir)
        say(f"wrote bundle {out_dir}")
    else:
        report["netx"] = netx_note
        bundle.manifest.update(_manifest(source, tgt, final, t_steps, netx_note, ctx, report))
    bundle.manifest["report"] = report
    return bundle


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


def measure_lowerings(ctx: PassContext, x: np.ndarray, float_run: Any, int_run: Any, final: Graph) -> dict:
    """Each lowering with its exactness and its measured effect on the same inputs.

    Float-level rewrites (lower-neurons) are measured float against float; integer-level ones (lower-primitives)
    integer against integer, so that each number isolates one lowering from quantization.
    """
    notes = {name: dict(n) for name, n in ctx.notes.get("lowering", {}).items()}
    if not notes:
        return {}
    snaps = ctx.snapshots
    float_layers = [n for n in notes if n in snaps["lower-neurons"].nodes and n in snaps["canonicalize"].nodes
                    and type(snaps["lower-neurons"].nodes[n]) is not type(snaps["canonicalize"].nodes[n])]
    if float_layers:
        from .backends.reference import FloatSimulator

        lowered = FloatSimulator(snaps["lower-neurons"]).run(x)
        cmp = compare_layers(snaps["canonicalize"], float_run, snaps["lower-neurons"], lowered, float_layers)
        for n in float_layers:
            notes[n]["measured"] = {"spike_agreement": cmp["layers"][n]["agreement"],
                                    "output_agreement": cmp["output_agreement"], "against": "float model"}
    program_layers = [n for n in notes if notes[n].get("against") == "float model"]
    if program_layers:  # lowered while quantizing (the AR-LIF program): measured float against deployed
        cmp = compare_layers(snaps["canonicalize"], float_run, final, int_run, program_layers)
        for n in program_layers:
            against = ("the float AR-LIF equations (tanh/sigmoid); the deploy-exact torch model itself matches "
                       "exactly" if notes[n]["exact"] else "the float model (includes weight quantization)")
            notes[n]["measured"] = {"spike_agreement": cmp["layers"][n]["agreement"],
                                    "output_agreement": cmp["output_agreement"], "against": against}
    int_layers = [n for n in notes if n not in float_layers and n not in program_layers]
    if int_layers:
        from .backends.reference import ReferenceSimulator

        unlowered = ReferenceSimulator(snaps["quantize"], ctx.target.neuron_format).run(x)
        cmp = compare_layers(snaps["quantize"], unlowered, final, int_run, int_layers)
        for n in int_layers:
            notes[n]["measured"] = {"spike_agreement": cmp["layers"][n]["agreement"],
                                    "output_agreement": cmp["output_agreement"], "against": "unlowered integer graph"}
    return notes


def _write_netx(graph: Graph, path: Path) -> dict[str, Any]:
    try:
        from .backends.lava import write_netx

        write_netx(graph, path)
    except (UnsupportedLayerError, BackendUnavailableError) as exc:
        if path.exists():
            path.unlink()
        return {"status": f"not expressible: {exc}", "file": None, "reason": str(exc)}
    return {"status": f"written ({NETX_FILE})", "file": NETX_FILE}


def _primitives(graph: Graph, tgt: Any) -> dict[str, dict[str, str]]:
    """The target primitive each neuron layer runs on, and whether it is stock Lava or snncc's own."""
    out = {}
    for name, node in graph.nodes.items():
        if isinstance(node, INT_NEURONS):
            prim = tgt.primitives[required_primitive(graph, name)]
            out[name] = {"primitive": prim.name, "kind": prim.kind, "lava": prim.lava.rsplit(".", 1)[-1],
                         "reset": getattr(node, "reset", "subtract")}
    return out


def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return Path(source).name
    return type(source).__name__


def _manifest(source: Any, tgt: Any, graph: Graph, timesteps: int, netx: dict, ctx: PassContext,
              report: dict) -> dict[str, Any]:
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
        "source": src, "target": {"name": tgt.name, "data": _target_data(tgt)}, "timesteps": timesteps,
        "input": InputEncoding.from_metadata(graph.metadata).to_dict(),
        "latency_steps": max(graph.synapse_depth().values()) if graph.nodes else 0,
        "pipeline": list(ctx.timings), "netx": netx, "versions": versions,
        "python": platform.python_version(), "compile_seconds": round(sum(ctx.timings.values()), 4),
    }


def _target_data(tgt: Any) -> dict[str, Any]:
    """The target as YAML-shaped data, so a bundle re-validates the exact description it was compiled for."""
    data: dict[str, Any] = {"schema_version": 1, "name": tgt.name, "description": tgt.description}
    for section, figs in tgt.figures.items():
        data[section] = {k: {"value": f.value, "unit": f.unit, "source": f.source, "confirmed": f.confirmed}
                         for k, f in figs.items()}
    data["primitives"] = {k: {"kind": p.kind, "lava": p.lava} for k, p in tgt.primitives.items()}
    return data
