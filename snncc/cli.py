"""The ``snncc`` command: compile, verify, run, report, export, targets.

User-caused failures (:class:`SnnccError`) print one ``snncc: error: ...`` line and exit with status 2; no
traceback. ``verify`` exits 0 only when every bit-exact comparison holds (1 otherwise), so it can be a CI step.
``compile``'s pass options are generated from the passes' option fields (:mod:`snncc.passes.options`), so a new
option appears here by itself.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

import numpy as np

from ._version import __version__
from .errors import BundleError, OptionError, SnnccError, one_line
from .outputs import check_writable, os_error_text

PASS_DEST = "pass:"  # argparse destination prefix of a pass option: "pass:quantize.bias_resolution"
EXPORT_DEST = "export:"  # argparse destination prefix of an export format's file and options: "export:nir.dt"


def _progress(quiet: bool):
    if quiet:
        return None
    return lambda msg: print(f"[snncc] {msg}", file=sys.stderr, flush=True)


def cmd_compile(args: argparse.Namespace) -> int:
    from .compiler import Options, compile_model, summary
    from .frontend import SemanticsRequest

    passes = {dest[len(PASS_DEST):]: value for dest, value in vars(args).items()
              if dest.startswith(PASS_DEST) and value is not None}
    semantics = SemanticsRequest(library=args.library, dt=args.dt,
                                 reset=None if args.reset is None else args.reset.replace("-", "_"),
                                 fire_at_threshold=None if args.threshold is None else args.threshold == "ge",
                                 discretization=args.discretization, max_spikes=args.max_spikes)
    options = Options(timesteps=args.timesteps, semantics=semantics,
                      allow_unsafe_pickle=args.allow_unsafe_pickle, inputs=args.inputs, samples=args.samples,
                      seed=args.seed, dump_ir=args.dump_ir, force=args.force, passes=passes)
    bundle = compile_model(args.model, args.target, args.output, options, pipeline=args.passes,
                           progress=_progress(args.quiet))
    print(summary(bundle))
    print(f"bundle: {args.output} (report: {Path(args.output) / 'report.md'})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .bundle import Bundle, write_json
    from .verify import verify_bundle

    if args.plot and not args.fidelity:
        raise OptionError("--plot names where --fidelity writes its plot; add --fidelity (or drop --plot)")
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:  # before the verdict is printed, not after
            check_writable(path, f"{flag} file", OptionError)
    bundle = Bundle.load(args.bundle)
    result = verify_bundle(bundle, inputs=args.inputs, samples=args.samples, seed=args.seed,
                           states=not args.spikes_only, skip=("netx",) if args.no_netx else (),
                           min_output_agreement=args.min_output_agreement, progress=_progress(args.quiet),
                           workers=args.workers)
    print(result.render())
    if args.fidelity:
        from .reports.fidelity_report import plot_fidelity, render_fidelity

        quant = bundle.report.get("quantization", {}).get("layers")
        print("\nfidelity (float vs integer, per layer):\n" + render_fidelity(result.fidelity, quant))
        png = plot_fidelity(result.fidelity, Path(args.plot) if args.plot else bundle.path / "fidelity.png")
        print(f"plot: {png}")
    if args.json:
        write_json(Path(args.json), result.to_dict())
    return 0 if result.passed else 1


def cmd_run(args: argparse.Namespace) -> int:
    from .bundle import Bundle, write_json
    from .dataset import run_dataset

    for flag, path in (("-o", args.output), ("--json", args.json)):
        if path:
            check_writable(path, f"{flag} file", OptionError)
    bundle = Bundle.load(args.bundle)
    run = run_dataset(bundle, args.inputs, args.labels, args.backend, shard_size=args.shard,
                      engine=_engine(args), progress=None if args.quiet else _progress_bar("run"))
    if args.output:
        np.save(args.output, run.outputs)
        print(f"wrote output spike counts {run.outputs.shape} to {args.output}")
    print(run.render())
    if args.print_predictions:
        print("predictions:", " ".join(str(int(p)) for p in run.predictions))
    if args.json:
        write_json(Path(args.json), run.to_dict())
        print(f"run summary: {args.json}")
    return 0


def _engine(args: argparse.Namespace):
    """Where the shards run: here (default), a local Dask cluster of ``--workers`` processes, or ``--scheduler``'s."""
    if args.scheduler is None and args.workers <= 1:
        return None
    from .distributed import dask_engine

    return dask_engine(address=args.scheduler, workers=args.workers)


def _progress_bar(what: str):
    """``progress(done, total)`` drawing one line on stderr (redrawn in place on a terminal)."""
    import time

    start = time.perf_counter()
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (total - done) if done else 0.0
        width = 30
        bar = "#" * int(width * done / max(total, 1))
        line = f"[snncc] {what} [{bar:<{width}}] {done}/{total} samples, {elapsed:.1f} s, {eta:.1f} s left"
        print(("\r" + line) if tty else line, end="" if tty and done < total else "\n", file=sys.stderr,
              flush=True)

    return show


def cmd_report(args: argparse.Namespace) -> int:
    from .bundle import Bundle
    from .reports import folder as rf
    from .reports.run_summary import load_run

    bundle = Bundle.load(args.bundle)  # checks that the bundle is complete and unmodified
    if "report.json" not in bundle.manifest["files"]:
        raise BundleError(f"{args.bundle}: the manifest lists no report.json")
    out = rf.check_report_folder(args.out if args.out is not None else bundle.path / "report")
    compiled = json.loads((Path(args.bundle) / "report.json").read_text())
    run = load_run(args.run, compiled) if args.run is not None else None
    data = rf.report_data(compiled, args.bundle, run, args.run)
    files = rf.write_report_folder(out, data, tuple(bundle.target.value("system", "mesh_shape")))
    if args.markdown:
        print(rf.render_report_markdown(data), end="")
        print("\n".join(f"[snncc] wrote {f}" for f in files), file=sys.stderr)
    else:
        print(rf.render_report_summary(data, files))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import FORMATS, export_bundle

    chosen = [f for f in FORMATS.values() if getattr(args, f"{EXPORT_DEST}{f.name}") is not None]
    if len(chosen) != 1:
        flags = " or ".join(f.flag for f in FORMATS.values())
        raise OptionError(f"name one file to write: {flags}" if not chosen else
                          f"one format at a time: {', '.join(f.flag for f in chosen)}")
    fmt = chosen[0]
    options = {}
    for f in FORMATS.values():
        for o in f.options:
            value = getattr(args, f"{EXPORT_DEST}{f.name}.{o.name}")
            if f is fmt:
                options[o.name] = value
            elif value not in (None, False):
                raise OptionError(f"{o.flag} is an option of {f.flag}, not of {fmt.flag}")
    warn = lambda msg: print(f"snncc: warning: {msg}", file=sys.stderr)  # noqa: E731
    path = export_bundle(args.bundle, fmt.name, getattr(args, f"{EXPORT_DEST}{fmt.name}"), force=args.force,
                         warn=warn, **options)
    print(f"wrote {fmt.name}: {path}")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from .target import builtin_targets, load_target

    names = builtin_targets()
    for name in names:
        print(f"{name:<{max(map(len, names))}} {load_target(name).description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .frontend.libraries import NAMES as LIBRARIES

    p = _Parser(prog="snncc", description="Compile spiking neural networks for neuromorphic chips.")
    p.add_argument("--version", action="version", version=f"snncc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile a model (.pt of torch.nn + snncc modules, or .nir) to a bundle")
    c.add_argument("model", help="model file: .pt/.pth saved with torch.save(model), or a NIR .nir file")
    c.add_argument("--target", default="loihi2", help="built-in target name or a target .yaml (default loihi2)")
    c.add_argument("-o", "--output", default="build", help="bundle folder to write (default build/)")
    c.add_argument("--timesteps", type=int, help="time steps per inference (default: the model's, else 16)")
    c.add_argument("--from", dest="library", metavar="LIBRARY", choices=LIBRARIES,
                   help="the library that exported the NIR file (" + ", ".join(LIBRARIES) + "): its time step, "
                        "reset, threshold test and integration scheme, and repairs of its known export bugs")
    c.add_argument("--dt", type=float, help="seconds per step for NIR files (NIR stores none)")
    c.add_argument("--reset", choices=("zero", "subtract", "subtract-after-leak"),
                   help="what a NIR neuron's spike does to v: set it to 0, subtract the threshold, or subtract it "
                        "after the next step's leak (snnTorch)")
    c.add_argument("--threshold", choices=("gt", "ge"), help="NIR neurons fire on v > threshold (gt) or v >= (ge)")
    c.add_argument("--discretization", choices=("euler", "exact"),
                   help="NIR's ODEs stepped by forward Euler (decay 1 - dt/tau) or exactly (decay exp(-dt/tau))")
    c.add_argument("--max-spikes", type=int,
                   help="the most spikes a NIR neuron sends in one step: 1 (binary), or more (Sinabs's MultiSpike, "
                        "Rockpool's max_spikes_per_dt: multi-level neurons)")
    c.add_argument("--inputs", help=".npy/.npz payloads (samples, T, n_in) for the activity and fidelity figures")
    c.add_argument("--samples", type=int, default=16, help="random samples when --inputs is not given")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--passes", metavar="PIPELINE",
                   help="the pipeline to run instead of the default, as text: name{option=value,...},name,... "
                        "(the bundle's manifest records the one that ran)")
    _pass_options(c)
    c.add_argument("--dump-ir", action="store_true", help="write the IR after every pass to <output>/ir/")
    c.add_argument("--force", action="store_true",
                   help="replace the -o folder even when it is not exactly an snncc bundle (its other files are lost)")
    c.add_argument("--allow-unsafe-pickle", action="store_true",
                   help="load a .pt file that needs classes outside snncc's allow-list (runs code from the file)")
    c.add_argument("-q", "--quiet", action="store_true")
    c.set_defaults(func=cmd_compile)

    v = sub.add_parser("verify", help="check reference == Lava (== netx) bit for bit; float vs integer fidelity")
    v.add_argument("bundle")
    v.add_argument("--inputs", help=".npy/.npz payloads (samples, T, n_in); default: random inputs")
    v.add_argument("--samples", type=int, default=8)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--spikes-only", action="store_true", help="compare spikes only, not u and v")
    v.add_argument("--no-netx", action="store_true", help="skip the netx comparison")
    v.add_argument("--min-output-agreement", type=float,
                   help="also fail unless float and integer predictions agree on at least this share (0..1)")
    v.add_argument("--fidelity", action="store_true",
                   help="the layer-by-layer float vs integer report (rates, agreement, silenced/always-on neurons, "
                        "membrane error, saturation, clipped weights) and its plot")
    v.add_argument("--plot", help="where --fidelity writes its PNG (default: <bundle>/fidelity.png)")
    v.add_argument("--json", help="write the verdict as JSON to this file")
    v.add_argument("--workers", type=_positive_int, default=1,
                   help="run Lava over this many worker processes, a slice of the samples each (default 1)")
    v.add_argument("-q", "--quiet", action="store_true")
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("run", help="run a bundle over a data set: accuracy, rates, counts and energy per inference")
    r.add_argument("bundle")
    r.add_argument("--inputs", required=True, help="payloads (.npy/.npz): (samples, T, n_in) integers")
    r.add_argument("--labels", help="class labels (.npy): one integer per sample; prints the accuracy")
    r.add_argument("--backend", default="reference", choices=_backend_names())
    r.add_argument("-o", "--output", help="save output spike counts (samples, classes) (.npy)")
    r.add_argument("--json", help="write the run summary (accuracy, rates, counts, energy) as JSON")
    r.add_argument("--shard", type=_positive_int, default=256, help="samples per shard (default 256)")
    r.add_argument("--workers", type=_positive_int, default=1,
                   help="run the shards on a local Dask cluster of this many worker processes (default: here)")
    r.add_argument("--scheduler", help="run the shards on the Dask cluster at this address (tcp://host:port)")
    r.add_argument("--print-predictions", action="store_true", help="print every sample's predicted class")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="write a bundle's report (JSON, Markdown, PNG plots) and print its summary")
    rep.add_argument("bundle")
    rep.add_argument("--out", metavar="DIR", help="folder to write (default: <bundle>/report; replaced only if snncc "
                                                  "wrote it)")
    rep.add_argument("--run", metavar="RUN.json",
                     help="a data-set run's summary ('snncc run --json'): its activity and energy instead of the "
                          "compile's")
    rep.add_argument("--markdown", action="store_true", help="print the full Markdown report instead of the summary")
    rep.set_defaults(func=cmd_report)

    e = sub.add_parser("export", help="write a bundle in another tool's format (--nir: standard NIR)")
    e.add_argument("bundle")
    _export_options(e)
    e.add_argument("--force", action="store_true", help="replace the file even when it is not of the format")
    e.set_defaults(func=cmd_export)

    t = sub.add_parser("targets", help="list the built-in targets")
    t.set_defaults(func=cmd_targets)
    return p


def _pass_options(parser: argparse.ArgumentParser) -> None:
    """One flag per pass option that declares one (``option(..., cli="--flag")``), with its type and choices."""
    from .passes import PASSES
    from .passes.options import choices, option_fields, option_type, scalar_type

    for name, cls in PASSES.items():
        for f in option_fields(cls):
            flag = f.metadata.get("cli")
            if not flag:
                continue
            tp = option_type(cls, f)
            allowed = choices(tp)
            parser.add_argument(flag, dest=f"{PASS_DEST}{name}.{f.name}", default=None, choices=allowed,
                                type=None if allowed else scalar_type(tp), metavar=None if allowed else f.name.upper(),
                                help=f"{f.metadata['help']} [{name}.{f.name}]")


def _export_options(parser: argparse.ArgumentParser) -> None:
    """One file flag per export format (``snncc.export.FORMATS``) and the flags of its options."""
    from .export import FORMATS

    for f in FORMATS.values():
        parser.add_argument(f.flag, dest=f"{EXPORT_DEST}{f.name}", metavar="FILE", help=f.help)
        for o in f.options:
            kwargs = {"metavar": o.name.upper(), **o.kwargs} if "action" not in o.kwargs else o.kwargs
            parser.add_argument(o.flag, dest=f"{EXPORT_DEST}{f.name}.{o.name}", help=f"{o.help} [{f.flag}]",
                                **kwargs)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _backend_names() -> list[str]:
    from .backends import BACKENDS

    return list(BACKENDS)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line like every other snncc error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"snncc: error: {self.prog}: {one_line(message)} (see '{self.prog} --help')\n")


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that every cleanup (temporary folders, half-written bundles) runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return args.func(args)
    except SnnccError as exc:
        print(f"snncc: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the system refused (disk full, a file vanished): say so on one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"snncc: error: {where}{os_error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snncc: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("snncc: terminated", file=sys.stderr)
        return 143
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
