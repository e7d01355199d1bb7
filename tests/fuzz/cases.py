"""One fuzz case, run inside a worker process: compile a generated model for a target and classify what happened.

A case compiles ``generate(seed)`` the way its description says (the module through ``snncc.compile``, a saved
``.pt`` through ``snncc.compile``, or a saved ``.pt`` through ``snncc.cli.main``) and returns a plain dict (it
crosses a pipe): ``compiled``; ``refused`` (an SnnccError matching a documented limitation), ``undocumented`` (any
other SnnccError); ``crashed`` (any other exception, with
its traceback); ``miscompiled`` (it compiled, but the bundle's float model does not compute what torch computes).
The driver adds ``hung``. A verification case runs ``snncc.verify.verify_bundle`` on a written bundle: the
reference simulator against Lava (and netx where written), bit for bit.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

COMPILED, REFUSED, UNDOCUMENTED, CRASHED, HUNG, MISCOMPILED = (
    "compiled", "refused", "undocumented", "crashed", "hung", "miscompiled")
FAILURES = (UNDOCUMENTED, CRASHED, HUNG, MISCOMPILED)  # outcomes that fail a fuzz run
STATUSES = (COMPILED, REFUSED, UNDOCUMENTED, CRASHED, HUNG, MISCOMPILED)


def resolve(name: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` name names (how jobs name what runs them, across processes)."""
    module, func = name.split(":")
    return getattr(importlib.import_module(module), func)


def classify_refusal(error_class: str, message: str) -> dict[str, Any]:
    """What a refusal (an SnnccError of class ``error_class``) of a valid model counts as."""
    from tests.fuzz.limitations import limitation

    text = f"{error_class}: {message}"
    lim = limitation(text)
    if lim is not None:
        return {"status": REFUSED, "reason": lim}
    return {"status": UNDOCUMENTED, "reason": None}


def outcome_of_exception(exc: BaseException) -> dict[str, Any]:
    """An SnnccError is a refusal (classified); anything else is a crash, with its traceback."""
    from snncc.errors import SnnccError

    if isinstance(exc, SnnccError):
        return {"error_class": type(exc).__name__, "message": str(exc),
                **classify_refusal(type(exc).__name__, str(exc))}
    return {"status": CRASHED, "reason": None, "error_class": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc))}


def snncc_compile(model: torch.nn.Module, desc: Any, target: str, out: Path) -> dict[str, Any] | None:
    """Compile as ``desc.via`` says; None when it compiled, else the outcome of the refusal (CLI: by its output)."""
    import snncc
    from snncc import cli

    options = snncc.Options(timesteps=desc.timesteps, samples=desc.samples, passes=dict(desc.options))
    if desc.via == "api":
        snncc.compile(model, target, out, options)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    pt = out.parent / f"{out.name}.pt"
    torch.save(model, pt)
    if desc.via == "file":
        snncc.compile(pt, target, out, options)
        return None
    flags = [f for k, v in sorted(desc.options.items()) for f in (f"--{k.replace('_', '-')}", str(v))]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(["compile", str(pt), "--target", target, "-o", str(out), "--timesteps", str(desc.timesteps),
                         "--samples", str(desc.samples), "-q", *flags])
    if code == 0:
        return None
    message = err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit status {code}"
    message = message.removeprefix("snncc: error: ")
    return {"error_class": "SnnccError(cli)", "message": message, **classify_refusal("SnnccError", message)}


def float_mismatch(model: torch.nn.Module, bundle: Any, samples: int = 2, seed: int = 0) -> str | None:
    """Where the bundle's float model (the canonical graph, level F) and torch (float64) disagree on the output on
    random inputs, or None. AR-LIF layers trained in deploy-exact mode run the integer program in torch, so they
    are not compared."""
    from snncc import neurons as N
    from snncc.inputs import random_inputs

    if any(isinstance(m, N.ARLIF) and m.deploy_exact for m in model.modules()):
        return None
    enc, t = bundle.encoding, bundle.timesteps
    x = random_inputs(enc, bundle.n_inputs, samples, t, seed)
    m64 = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        N.reset_states(m64)
        xin = torch.tensor(x * (enc.scale if enc.graded else 1.0), dtype=torch.float64).permute(1, 0, 2)
        out = N.run_sequence(m64, xin).reshape(t, samples, -1).permute(1, 0, 2).numpy()
    last = [m for m in m64.modules() if isinstance(m, (N.LIF, N.KLIF, N.ARLIF, N.MultiLevel, N.NASN))][-1]
    if isinstance(last, (N.MultiLevel, N.NASN)):
        out = np.rint(out / last.out_scale)
    sim = bundle.run(x, "float")
    got = np.asarray(sim.layers[sim.output_layers[0]].spikes, np.float64).reshape(out.shape)
    if np.array_equal(got, out):
        return None
    s, step, i = (int(v[0]) for v in np.nonzero(got != out))
    return (f"torch (float64) and the bundle's float model differ at sample {s}, step {step}, output {i}: "
            f"torch {out[s, step, i]:g}, float model {got[s, step, i]:g} ({int((got != out).sum())} entries)")


def compile_case(job: dict[str, Any]) -> dict[str, Any]:
    """Generate ``job['seed']``'s model, compile it for ``job['target']`` into ``job['out']``, classify.
    ``job['compile']`` may name another compile function (``(model, desc, target, out) -> refusal or None``)."""
    from snncc.bundle import Bundle
    from tests.fuzz.generate import generate

    start = time.perf_counter()
    model, desc = generate(job["seed"])
    result: dict[str, Any] = {"status": COMPILED, "reason": None}
    out = Path(job["out"])
    compile_model = resolve(job["compile"]) if job.get("compile") else snncc_compile
    try:
        refused = compile_model(model, desc, job["target"], out)
        if refused is not None:
            result = refused
    except Exception as exc:  # everything else is a crash of the compiler: classified, never raised
        result = outcome_of_exception(exc)
    if result["status"] == COMPILED:
        try:
            bundle = Bundle.load(out)
            result["netx"] = bool(bundle.manifest.get("netx", {}).get("file"))
            problem = float_mismatch(model, bundle)
        except Exception as exc:  # a written bundle must load and run: any error here is a crash, never a refusal
            problem = None
            result = {"status": CRASHED, "reason": "loading or running the compiled bundle",
                      "error_class": type(exc).__name__, "message": str(exc),
                      "traceback": "".join(traceback.format_exception(exc))}
        if problem is not None:
            result = {"status": MISCOMPILED, "reason": "torch != float model", "message": problem}
    return {**result, "seconds": round(time.perf_counter() - start, 3), "bundle": str(out),
            "description": desc.to_dict()}


def verify_case(job: dict[str, Any]) -> dict[str, Any]:
    """Load the bundle ``job['bundle']`` from disk and require reference == Lava (== netx) bit for bit."""
    from snncc.bundle import Bundle
    from snncc.verify import verify_bundle

    start = time.perf_counter()
    try:
        result = verify_bundle(Bundle.load(job["bundle"]), samples=int(job.get("samples", 3)), seed=int(job["seed"]))
        compared = {f"{c.a} vs {c.b}": bool(c.equal) for c in result.comparisons}
        exact = result.bit_exact and bool(compared)  # nothing compared is no verification
        out = {"status": "bit-exact" if exact else "mismatch", "compared": compared,
               "message": None if exact else result.render()}
    except Exception as exc:
        out = {"status": "error", "message": f"{type(exc).__name__}: {exc}",
               "traceback": "".join(traceback.format_exception(exc))}
    return {**out, "seconds": round(time.perf_counter() - start, 3)}
