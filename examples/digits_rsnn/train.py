"""Train a recurrent LIF network that reads scikit-learn's 8x8 digits row by row, and save it for snncc.

Model: ``GradedInput(16) -> Linear(8, 128) -> Recurrent(LIF, 128) -> Linear(128, 10) -> LIF``. At step ``t < 8`` the
input is row ``t`` of the image (8 pixels, 16 levels: the deployed payload is the pixel 0..16); ``--extra-steps K``
(default 2) more steps with zero input let the last rows reach the output. The prediction is the argmax of the output
layer's spike counts over all ``8 + K`` steps (the lowest index on ties), the rule the compiled network is judged by.

1. Float training (surrogate gradients, float weights), 80 epochs -> ``model_float.pt``.
2. Quantization-aware fine-tuning, 10 epochs (:class:`snncc.training.QAT`: the forward pass is the deployed integer
   network, straight-through gradients to the float masters; loss: cross-entropy plus the KL divergence from the
   float model), then ``finalize`` -> ``model.pt``: deploy-exact, the compiled network computes exactly what its
   torch forward pass computes.

    .venv/bin/python examples/digits_rsnn/train.py          # -> model_float.pt and model.pt, about 30 s
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

if __package__ in (None, ""):  # run as a script: python examples/digits_rsnn/train.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.digits.data import N_CLASSES, PIXEL_LEVELS, DigitsSplit, load_digits_split  # noqa: E402
from examples.digits.training import distillation, predict_counts, summed_output  # noqa: E402
from snncc.frontend.loading import load_model  # noqa: E402
from snncc.neurons import LIF, GradedInput, Recurrent, reset_states  # noqa: E402
from snncc.training import QAT  # noqa: E402

HERE = Path(__file__).resolve().parent
ROWS = 8  # one image row per step
ROW_PIXELS = 8  # the input width
ENCODING = "rows"  # saved as model.encoding: what the input sequence is


# ---- input ------------------------------------------------------------------------------------------------------
def row_sequence(x: np.ndarray, extra_steps: int = 0) -> torch.Tensor:
    """Float input (T, B, 8) for the torch model: step ``t < 8`` is row ``t`` of each image (pixels / 16 in [0, 1]),
    then ``extra_steps`` zero steps. ``x``: (B, 64) as in :mod:`examples.digits.data`."""
    rows = np.asarray(x, np.float32).reshape(-1, ROWS, ROW_PIXELS).transpose(1, 0, 2)
    pad = np.zeros((extra_steps, *rows.shape[1:]), np.float32)
    return torch.from_numpy(np.concatenate([rows, pad]))


def row_payloads(x: np.ndarray, extra_steps: int = 0) -> np.ndarray:
    """What the deployed network receives, int64 (N, T, 8): the pixels 0..16 of row ``t`` at step ``t``, then
    zeros; exactly ``GradedInput(16).to_payload`` of :func:`row_sequence`."""
    rows = np.rint(np.clip(np.asarray(x, np.float32), 0.0, 1.0) * PIXEL_LEVELS).astype(np.int64)
    rows = rows.reshape(-1, ROWS, ROW_PIXELS)
    return np.concatenate([rows, np.zeros((rows.shape[0], extra_steps, ROW_PIXELS), np.int64)], axis=1)


# ---- model ------------------------------------------------------------------------------------------------------
def build_model(hidden: int = 128, beta: float = 0.9, threshold: float = 1.0, seed: int = 0,
                input_gain: float = 2.0, feedback_gain: float = 1.0, reset: str = "zero",
                current_decay: float = 0.0, out_beta: float = 0.9, out_threshold: float = 1.0,
                out_reset: str = "zero") -> nn.Sequential:
    """The recurrent network; the input weights start at ``input_gain`` x torch's default range (8 inputs in [0, 1]
    hardly reach the threshold otherwise), the feedback weights at ``feedback_gain`` x."""
    torch.manual_seed(seed)
    model = nn.Sequential(GradedInput(PIXEL_LEVELS),
                          nn.Linear(ROW_PIXELS, hidden),
                          Recurrent(LIF(beta=beta, threshold=threshold, reset=reset,
                                        current_decay=current_decay), hidden),
                          nn.Linear(hidden, N_CLASSES),
                          LIF(beta=out_beta, threshold=out_threshold, reset=out_reset))
    with torch.no_grad():
        model[1].weight.mul_(input_gain)
        model[2].feedback.weight.mul_(feedback_gain)
    return model


def save_model(model: nn.Module, path: str | Path, extra_steps: int) -> Path:
    """``torch.save`` of the whole module (eval mode, state cleared) with ``timesteps`` (8 + extra), ``extra_steps``
    and ``encoding`` attributes: ``snncc compile model.pt`` reads ``timesteps``."""
    reset_states(model)
    model.eval()
    model.timesteps = ROWS + int(extra_steps)
    model.extra_steps = int(extra_steps)
    model.encoding = ENCODING
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path


# ---- evaluation -------------------------------------------------------------------------------------------------
@torch.no_grad()
def output_counts(model: nn.Module, x: np.ndarray, extra_steps: int, batch_size: int = 512) -> np.ndarray:
    """Output spike counts (N, 10) over the 8 + extra steps, int64."""
    was_training = model.training
    model.eval()
    seq = row_sequence(x, extra_steps)
    out = [summed_output(model, seq[:, i:i + batch_size]).double().numpy() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return np.rint(np.concatenate(out)).astype(np.int64)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, extra_steps: int) -> float:
    """Test accuracy (0..1), argmax of the output spike counts (lowest index on ties)."""
    return float((predict_counts(output_counts(model, x, extra_steps)) == y).mean())


# ---- training ---------------------------------------------------------------------------------------------------
def fit(model: nn.Module, data: DigitsSplit, extra_steps: int, epochs: int, lr: float, loss_scale: float,
        seed: int, batch_size: int = 64, qat: QAT | None = None, teacher: nn.Module | None = None,
        distill: float = 1.0, label: str = "", verbose: bool = True) -> float:
    """Adam with a cosine schedule on the cross-entropy of ``loss_scale * output spike counts``; returns the
    training time in seconds. ``qat``: every batch runs inside ``qat.fake_quant()`` (the deployed network);
    ``teacher``: adds ``distill`` x the KL divergence from the teacher's output distribution."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    rng = np.random.default_rng(seed)
    y_train = torch.from_numpy(data.y_train)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(data.x_train))
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            seq = row_sequence(data.x_train[idx], extra_steps)
            ctx = qat.fake_quant() if qat is not None else contextlib.nullcontext()
            with ctx:
                out = summed_output(model, seq)
                loss = nn.functional.cross_entropy(loss_scale * out, y_train[idx])
                if teacher is not None:
                    with torch.no_grad():
                        target = summed_output(teacher, seq)
                    loss = loss + distill * distillation(loss_scale * out, loss_scale * target)
                opt.zero_grad()
                loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((predict_counts(out) == data.y_train[idx]).sum())
        sched.step()
        if verbose:
            ctx = qat.fake_quant() if qat is not None else contextlib.nullcontext()
            with ctx:
                test = accuracy(model, data.x_test, data.y_test, extra_steps)
            n = len(order)
            print(f"{label}epoch {epoch:3d}  loss {loss_sum / n:.4f}  train acc {100 * correct / n:6.2f}%  "
                  f"test acc {100 * test:6.2f}%  ({time.perf_counter() - start:5.1f} s)", flush=True)
    model.eval()
    reset_states(model)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--extra-steps", type=int, default=2, help="zero-input steps after the 8 rows")
    p.add_argument("--epochs", type=int, default=80, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=10, help="quantization-aware fine-tuning epochs (0: none)")
    p.add_argument("--beta", type=float, default=0.9)
    p.add_argument("--reset", default="subtract", help="the recurrent layer's reset")
    p.add_argument("--current-decay", type=float, default=0.0)
    p.add_argument("--out-beta", type=float, default=0.9)
    p.add_argument("--out-threshold", type=float, default=1.0)
    p.add_argument("--out-reset", default="zero")
    p.add_argument("--input-gain", type=float, default=2.0)
    p.add_argument("--feedback-gain", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--qat-lr", type=float, default=5e-4)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * output spike counts")
    p.add_argument("--distill", type=float, default=1.0, help="QAT: weight of the KL from the float model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-float", type=Path, default=HERE / "model_float.pt", help="the float model (phase 1)")
    p.add_argument("--out", type=Path, default=HERE / "model.pt", help="the deployed model (after QAT)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_digits_split(seed=0)  # the 80/20 split of every digits example
    k = args.extra_steps

    model = build_model(args.hidden, args.beta, seed=args.seed, input_gain=args.input_gain,
                        feedback_gain=args.feedback_gain, reset=args.reset, current_decay=args.current_decay,
                        out_beta=args.out_beta, out_threshold=args.out_threshold, out_reset=args.out_reset)
    seconds = fit(model, data, k, args.epochs, args.lr, args.loss_scale, args.seed, label="float ")
    acc = accuracy(model, data.x_test, data.y_test, k)
    print(f"float training {seconds:.1f} s; float test accuracy {100 * acc:.2f}%")
    path = save_model(model, args.out_float, k)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB)")
    if args.qat_epochs > 0:
        teacher = copy.deepcopy(model)
        qat = QAT(model, "loihi2")  # converts the model to float64, integer neurons
        with qat.fake_quant():
            before = accuracy(model, data.x_test, data.y_test, k)
        s2 = fit(model, data, k, args.qat_epochs, args.qat_lr, args.loss_scale, args.seed + 1, qat=qat,
                 teacher=teacher.double(), distill=args.distill, label="qat ")
        qat.finalize()
        acc2 = accuracy(model, data.x_test, data.y_test, k)
        print(f"QAT {s2:.1f} s; deployed-function test accuracy {100 * before:.2f}% (post-training quantization) "
              f"-> {100 * acc2:.2f}% (deploy-exact model)")
        seconds += s2
    path = save_model(model, args.out, k)
    check = accuracy(load_model(path).module, data.x_test, data.y_test, k)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%; "
          f"total training time {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
