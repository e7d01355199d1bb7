"""Seed-neuron digits examples: shared training/evaluation helpers, and the deploy-and-measure script.

    .venv/bin/python examples/seed_deploy.py examples/digits_klif/model.pt --target loihi2 [--lava 8]
    .venv/bin/python examples/seed_deploy.py examples/digits_arlif/model_float.pt --lowering stock
    .venv/bin/python examples/seed_deploy.py examples/digits_multilevel/model.pt --target loihi --lowering substep
    .venv/bin/python examples/seed_deploy.py --all [--lava 4]       # every shipped (model, target): the table

For one model file and target it compiles the model with snncc (the first 64 test payloads drive the activity
figures), runs the 360 test images through the compiled integer network on snncc's reference simulator
(population-aware predictions, :func:`snncc.fidelity.predictions`), compares with the float accuracy of the torch
model itself, and (``--lava N``) re-runs the first N images on Lava, which must be bit-exact with the reference in
spikes and states. Costs and lowering flags come from the compile report.

The prediction rule everywhere is the argmax of the output layer's summed output levels over T steps (spike counts
for binary layers, summed integer levels ``z`` for multi-level layers), the lowest class index on ties.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import snncc  # noqa: E402
from examples.digits.data import (  # noqa: E402
    EVAL_SEED,
    PIXEL_LEVELS,
    DigitsSplit,
    add_split_arguments,
    encode,
    load_digits_split,
    payloads,
    split_from_arguments,
)
from examples.digits.training import (  # noqa: E402
    FitResult,  # noqa: E402
    distillation,
    predict_counts,
    summed_output,
    weight_noise,
)
from examples.digits.training import fit as _fit  # noqa: E402
from snncc.bundle import Bundle  # noqa: E402
from snncc.fidelity import logical_spikes, predictions  # noqa: E402
from snncc.frontend.loading import load_model  # noqa: E402
from snncc.neurons import ARLIF, NASN, QCFS, GradedInput, MultiLevel, SpikingModule, reset_states  # noqa: E402
from snncc.verify import compare_results  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent
ACTIVITY_IMAGES = 64  # test payloads passed to snncc.compile for the activity / energy figures
LOSS_SCALE = 0.5  # logits = 0.5 x summed output levels: the QAT distillation's (and the training default's)
CALIBRATION_IMAGES = 256  # training payloads for --calibrate

# The lowering choices of the table: snncc.compile options under a short name.
LOWERINGS: dict[str, dict[str, str]] = {
    "program": {},  # the defaults: AR-LIF as snncc's integer program; multi-level as a population without graded spikes
    "stock": {"arlif": "stock"},
    "substep": {"multilevel": "substep"},
}

# Every shipped (model, target, lowering, timesteps override): the rows of docs/seed_neurons.md.
SHIPPED: list[tuple[str, str, str, int | None]] = [
    ("digits_klif/model.pt", "loihi2", "program", None),
    ("digits_klif/model_rate.pt", "loihi2", "program", None),
    ("digits_klif/model_rate.pt", "loihi", "program", None),
    ("digits_arlif/model_float.pt", "loihi2", "program", None),
    ("digits_arlif/model.pt", "loihi2", "program", None),
    ("digits_arlif/model_float.pt", "loihi2", "stock", None),
    ("digits_arlif/model.pt", "loihi2", "stock", None),
    ("digits_multilevel/model.pt", "loihi2", "program", None),
    ("digits_multilevel/model.pt", "loihi", "program", None),
    ("digits_multilevel/model.pt", "loihi", "substep", None),
    ("digits_gn/model.pt", "loihi2", "program", 1),
    ("digits_gn/model.pt", "loihi2", "program", 2),
    ("digits_gn/model.pt", "loihi2", "program", 4),
    ("digits_gn/model.pt", "loihi2", "program", 8),
    ("digits_asn/model.pt", "loihi2", "program", None),
    ("digits_asn/model_nasn.pt", "loihi2", "program", None),
    ("digits_vgg/model.pt", "loihi2", "program", None),
    ("digits_resnet/model.pt", "loihi2", "program", None),
]


# ---- models and inputs ------------------------------------------------------------------------------------------
def load_seed_model(path: str | Path) -> nn.Module:
    """Load a saved example with snncc's safe loader (torch ``weights_only`` + the torch.nn/snncc allow-list)."""
    return load_model(path).module


def save_seed_model(model: nn.Module, path: str | Path, timesteps: int, encoding: str) -> Path:
    """``torch.save`` the whole module (eval mode, state cleared) with ``timesteps`` and ``encoding`` attributes."""
    reset_states(model)
    model.eval()
    model.timesteps = int(timesteps)
    model.encoding = str(encoding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path


def check_encoding(model: nn.Module, encoding: str) -> None:
    """Direct encoding needs ``GradedInput(16)`` first (the payload is the pixel 0..16); rate needs none."""
    first = next(iter(model.children()), None)
    graded = isinstance(first, GradedInput)
    if encoding == "direct" and not (graded and first.levels == PIXEL_LEVELS):
        raise ValueError(f"direct encoding needs GradedInput({PIXEL_LEVELS}) as the first module")
    if encoding == "rate" and graded:
        raise ValueError("rate encoding must not start with GradedInput")


def output_scale(model: nn.Module) -> float:
    """What one output level of the last neuron layer is worth: ``out_scale`` of a multi-level layer, ``theta / L``
    of a QCFS activation (an ANN), 1 for binary spikes."""
    last = [m for m in model.modules() if isinstance(m, (SpikingModule, QCFS))]
    if last and isinstance(last[-1], (MultiLevel, NASN)):
        return float(last[-1].out_scale)
    if last and isinstance(last[-1], QCFS):
        return float(last[-1].theta.detach()) / last[-1].levels
    return 1.0


@torch.no_grad()
def float_counts(model: nn.Module, x: np.ndarray, encoding: str, timesteps: int,
                 rng: np.random.Generator | None = None, batch_size: int = 512) -> np.ndarray:
    """Output levels (N, 10) summed over T: ``round(sum_t out_t / output_scale)`` as int64.

    Rate encoding draws all spikes at once from ``rng`` (default ``default_rng(EVAL_SEED)``), exactly the spikes of
    ``payloads(x, timesteps, "rate", default_rng(EVAL_SEED))``.
    """
    if encoding == "rate" and rng is None:
        rng = np.random.default_rng(EVAL_SEED)
    was_training = model.training
    model.eval()
    seq = encode(x, timesteps, encoding, rng)
    scale = output_scale(model)
    out = [summed_output(model, seq[:, i:i + batch_size]).double().numpy() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return np.rint(np.concatenate(out) / scale).astype(np.int64)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, encoding: str, timesteps: int) -> float:
    """Float test accuracy (0..1) with the argmax-of-summed-levels rule (rate: fixed-seed spikes)."""
    return float((predict_counts(float_counts(model, x, encoding, timesteps)) == y).mean())


# ---- training ---------------------------------------------------------------------------------------------------
def fit(model: nn.Module, data: DigitsSplit, encoding: str, timesteps: int, epochs: int, **kwargs: Any) -> FitResult:
    """The shared training loop (examples/digits/training.py), scored with :func:`accuracy` (output-scale aware)."""
    return _fit(model, data, encoding, timesteps, epochs,
                score=lambda m: accuracy(m, data.x_test, data.y_test, encoding, timesteps), **kwargs)


# ---- deployment -------------------------------------------------------------------------------------------------
def train_cli(argv: list[str] | None, description: str, build_model: Callable[..., nn.Module], out: Path,
              encoding: str, weight_noise_lsbs: float = 2.0) -> int:
    """The training command of a spike-input conv example: fit ``build_model(seed=...)`` with weight noise, report
    float accuracy, save it and check that the saved file loads safely with the same accuracy."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * summed output spikes")
    p.add_argument("--weight-noise", type=float, default=weight_noise_lsbs,
                   help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=out)
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = split_from_arguments(args)
    model = build_model(seed=args.seed)
    res = fit(model, data, encoding, args.timesteps, args.epochs, lr=args.lr, loss_scale=args.loss_scale,
              seed=args.seed, perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None)
    model.eval()
    acc = accuracy(model, data.x_test, data.y_test, encoding, args.timesteps)
    print(f"training time {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%")
    path = save_seed_model(model, args.out, args.timesteps, encoding)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, encoding, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%")
    return 0


def holdout(split: DigitsSplit, fraction: float = 0.2, seed: int = 0) -> DigitsSplit:
    """Split the *training* images of ``split`` in two, stratified: ``x_train`` keeps ``1 - fraction`` of them and
    ``x_test`` holds the rest, for choosing among checkpoints without looking at the test images."""
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(split.x_train, split.y_train, test_size=fraction,
                                                random_state=seed, stratify=split.y_train)
    return DigitsSplit(x_tr, y_tr, x_val, y_val)


def qat_finetune(model_path: str | Path, target: str = "loihi2", out: str | Path | None = None, epochs: int = 10,
                 lr: float = 3e-4, seed: int = 0, split: DigitsSplit | None = None, distill: float = 1.0,
                 validation: float = 0.2, calibrate: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """Quantization-aware fine-tuning of an example for ``target``; saves the finalized model (on the deployed
    grid) to ``out`` (default: ``<model>_qat.pt`` beside it).

    The forward pass is the deployed network (:class:`snncc.training.QAT`: integer neurons, fake-quantized weights,
    straight-through gradients to the float masters). The loss is the examples' cross-entropy plus ``distill`` x
    the KL divergence from the *float model's* output distribution on the same inputs: the aim is the float
    model's function on the chip, not a retrained model. Training uses ``1 - validation`` of the training images of
    ``split``; the fidelity of a deployed network is measured on the remaining ``validation`` share (the same KL
    divergence from the float model's outputs, no labels: held-out accuracy is about 99% for every checkpoint and
    cannot rank them). ``calibrate``: the calibrated post-training quantization (:class:`snncc.training.QAT` with the
    payloads :func:`measure` calibrates on) competes with the max rule's as the starting point, and the more
    faithful one is fine-tuned (the calibrated one on ties). Fidelity is measured again after each epoch and the
    most faithful checkpoint is kept, epoch 0 (the starting PTQ itself) on ties. The test images are never looked
    at. ``log`` receives one line saying which start and which epoch were kept, with their held-out divergences.
    """
    from snncc.training import QAT

    model = load_seed_model(model_path)
    teacher = copy.deepcopy(model)  # the float model: QAT converts ``model`` to its integer mode in place
    t, enc = int(model.timesteps), str(model.encoding)
    split = split or load_digits_split(seed=0)
    data = holdout(split, validation, seed)
    reference = float_counts(teacher, data.x_test, enc, t)

    def fidelity(m: nn.Module, q: QAT) -> float:
        q.refresh()  # the grids of these masters: what finalize() will deploy
        with q.fake_quant():
            counts = float_counts(m, data.x_test, enc, t)
        as_logits = [LOSS_SCALE * torch.from_numpy(np.asarray(c, np.float64)) for c in (counts, reference)]
        return -float(distillation(*as_logits))

    starts = [("calibrated", model, QAT(model, target, calibration=calibration_payloads(model, split, t)))
              ] if calibrate else []
    max_rule = copy.deepcopy(teacher) if calibrate else model
    starts.append(("max rule", max_rule, QAT(max_rule, target)))
    scored = [(fidelity(m, q), name, m, q) for name, m, q in starts]
    start_score, chosen, model, qat = max(scored, key=lambda s: s[0])  # the first (calibrated) on ties
    fit = _fit(model, data, enc, t, epochs, score=None, lr=lr, loss_scale=LOSS_SCALE, seed=seed,
               perturb=lambda _m: qat.quantize_weights(), verbose=False, teacher=teacher, distill=distill,
               select=lambda m: fidelity(m, qat))
    qat.finalize()
    if log is not None:
        kl = {0: -start_score} | {row["epoch"]: -row["selection"] for row in fit.history}
        log(f"QAT start: {chosen} (held-out KL from float: "
            + ", ".join(f"{name} {-score:.5f}" for score, name, _m, _q in scored)
            + f"); kept epoch {fit.selected_epoch} of {epochs} (KL {kl[fit.selected_epoch]:.5f}; "
            f"after epoch 1: {kl.get(1, float('nan')):.5f})")
    out = Path(out) if out is not None else Path(model_path).with_name(Path(model_path).stem + "_qat.pt")
    return save_seed_model(model, out, t, enc)


def deploy_payloads(model: nn.Module, split: DigitsSplit, timesteps: int | None = None) -> np.ndarray:
    """What the deployed network receives for the test images: int64 (360, T, 64)."""
    t = int(timesteps or model.timesteps)
    return payloads(split.x_test, t, model.encoding, np.random.default_rng(EVAL_SEED))


def calibration_payloads(model: nn.Module, split: DigitsSplit, timesteps: int | None = None,
                         samples: int = CALIBRATION_IMAGES) -> np.ndarray:
    """Payloads of the first ``samples`` *training* images (never test images): snncc's calibration data."""
    t = int(timesteps or model.timesteps)
    return payloads(split.x_train[:samples], t, model.encoding, np.random.default_rng(EVAL_SEED + 1))


def measure(model_path: str | Path, target: str = "loihi2", out_dir: str | Path | None = None,
            lowering: str = "program", lava_samples: int = 0, timesteps: int | None = None,
            calibrate: str | None = None, split: DigitsSplit | None = None) -> dict:
    """Compile ``model_path`` for ``target`` (``lowering``: a key of :data:`LOWERINGS`) and measure float vs
    deployed accuracy, costs and lowerings. ``calibrate`` (a calibration method) calibrates the quantization on
    :func:`calibration_payloads`. ``split``: the images the model was trained and is tested on (default: the
    80/20 split every shipped model was trained on)."""
    model = load_seed_model(model_path)
    t = int(timesteps or model.timesteps)
    split = split or load_digits_split(seed=0)
    x = deploy_payloads(model, split, t)
    f_counts = float_counts(model, split.x_test, model.encoding, t)
    float_pred = predict_counts(f_counts)
    start = time.perf_counter()
    cal = {} if calibrate is None else {"calibrate.data": calibration_payloads(model, split, t),
                                        "calibrate.method": calibrate}
    options = snncc.Options(inputs=x[:ACTIVITY_IMAGES], timesteps=t, passes={**LOWERINGS[lowering], **cal})
    bundle = snncc.compile(model_path, target, out_dir, options)
    compile_s = time.perf_counter() - start
    deployed = bundle.run(x, "reference")
    int_pred = predictions(bundle.graph, deployed)
    out = deployed.output_layers[0]
    int_counts = logical_spikes(bundle.graph, out, deployed.layers[out].spikes).sum(axis=1)
    arlifs = [m for m in model.modules() if isinstance(m, ARLIF)]
    report = bundle.manifest["report"]
    result = {
        "model": _short(model_path),
        "target": target, "lowering_choice": lowering, "timesteps": t,
        "substeps": report["substeps"], "encoding": model.encoding,
        "test_images": int(len(split.y_test)),
        "float_accuracy": float(np.mean(float_pred == split.y_test)),
        "deployed_accuracy": float(np.mean(int_pred == split.y_test)),
        "prediction_agreement": float(np.mean(float_pred == int_pred)),
        "count_agreement": float(np.mean(np.all(f_counts == int_counts, axis=1))),
        "deploy_exact": bool(arlifs) and all(m.deploy_exact for m in arlifs),
        **costs(report),
        "lowering": report["lowering"], "primitives": report["primitives"],
        "fidelity_output_agreement": report["fidelity"]["output_agreement"],
        "compile_seconds": compile_s,
        "deployed_counts": int_counts,  # (images, 10) summed output levels of the compiled network
        "float_correct": float_pred == split.y_test,  # (images,) bool, per test image
        "deployed_correct": int_pred == split.y_test,
    }
    if lava_samples:
        result.update(lava_recheck(bundle, x[:lava_samples]))
    return result


def costs(report: dict) -> dict:
    """Cores, neurons, non-zero synapses and energy per inference from a compile report."""
    res, tm = report["resources"], report["energy"]["target_model"]
    return {"cores": res["cores_used"], "neurons": res["totals"]["neurons"],
            "synapses": sum(layer["synapses_nonzero"] for layer in res["layers"].values()),
            "energy_j": tm["total_j"], "dynamic_energy_j": tm["dynamic_total_j"]}


def lava_recheck(bundle: Bundle, x: np.ndarray) -> dict:
    """Reference == Lava in spikes and states on payloads ``x``."""
    ref = bundle.run(x, "reference", record_states=True)
    lava = bundle.run(x, "lava", record_states=True)
    cmp = compare_results("reference", ref, "lava", lava, states=True)
    return {"lava_samples": len(x), "lava_bit_exact": cmp.equal, "lava_first_mismatch": cmp.first_mismatch}


def _short(path: str | Path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(EXAMPLES)) if p.is_relative_to(EXAMPLES) else str(path)


def lowering_summary(r: dict) -> str:
    """``exact``/``approximate`` from the compile report's lowerings (``none`` when nothing was rewritten)."""
    low = r["lowering"]
    if any(p["primitive"] == "arlif" for p in r["primitives"].values()):
        return ("AR-LIF program, exact (deploy-exact model)" if r["deploy_exact"]
                else "AR-LIF program, approximate (table vs tanh/sigmoid)")
    if not low:
        return "none (native)"
    flags = {bool(v["exact"]) for v in low.values()}
    return "exact" if flags == {True} else ("approximate" if flags == {False} else "mixed")


def primitive_summary(r: dict) -> str:
    """Per distinct primitive: ``name (stock|custom)``."""
    seen = dict.fromkeys(f"{p['primitive']} ({p['kind']})" for p in r["primitives"].values())
    return ", ".join(seen)


HEADER = ("| model | target | T | float acc. | deployed acc. | same pred. | same counts | lowering | primitives | "
          "neurons | synapses | cores | energy/inference (dynamic) | Lava |")


def table_row(r: dict) -> str:
    """One Markdown row of the measured table."""
    options = " ".join(f"--{k} {v}" for k, v in LOWERINGS[r["lowering_choice"]].items())
    name = r["model"] + (f" `{options}`" if options else "")
    lava = "n/a" if "lava_bit_exact" not in r else (
        f"bit-exact ({r['lava_samples']} img.)" if r["lava_bit_exact"] else "MISMATCH")
    steps = f"{r['timesteps']} (x{r['substeps']} sub-steps)" if r["substeps"] > 1 else str(r["timesteps"])
    return (f"| {name} | {r['target']} | {steps} | {100 * r['float_accuracy']:.2f}% | "
            f"{100 * r['deployed_accuracy']:.2f}% | {100 * r['prediction_agreement']:.2f}% | "
            f"{100 * r['count_agreement']:.2f}% | {lowering_summary(r)} | "
            f"{primitive_summary(r)} | {r['neurons']} | {r['synapses']} | {r['cores']} | "
            f"{1e6 * r['energy_j']:.1f} uJ ({1e9 * r['dynamic_energy_j']:.0f} nJ) | {lava} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", help="a saved example model (.pt)")
    p.add_argument("--target", default="loihi2")
    p.add_argument("--lowering", choices=tuple(LOWERINGS), default="program",
                   help="program: the defaults; stock: --arlif stock; substep: --multilevel substep")
    p.add_argument("--timesteps", type=int, default=None, help="override the model's T")
    p.add_argument("--out", default=None, help="also write the bundle here")
    p.add_argument("--lava", type=int, default=0, help="re-check reference == Lava on this many test images")
    p.add_argument("--all", action="store_true", help="measure every shipped (model, target) pair")
    p.add_argument("--json", default=None, help="write the measurements to this JSON file")
    args = p.parse_args(argv)
    if args.all == (args.model is not None):
        p.error("give a model file or --all")
    runs = ([(EXAMPLES / m, tgt, arl, t) for m, tgt, arl, t in SHIPPED] if args.all
            else [(Path(args.model), args.target, args.lowering, args.timesteps)])
    results = []
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    for model, target, arl, t in runs:
        try:
            r = measure(model, target, args.out if not args.all else None, arl, args.lava, t)
        except snncc.SnnccError as exc:
            print(f"| {_short(model)} | {target} | compile failed: {exc} |", flush=True)
            results.append({"model": _short(model), "target": target, "lowering_choice": arl, "error": str(exc)})
            continue
        print(table_row(r), flush=True)
        results.append(r)
    if args.json:
        rows = [{k: v for k, v in r.items() if not isinstance(v, np.ndarray)} for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
