"""Train a small LIF MLP on scikit-learn's 8x8 digits and save it for snncc (``torch.save`` of the whole module).

Model: ``[GradedInput(16)] -> Linear(64, H) -> LIF -> Linear(H, 10) -> LIF``; the prediction is the argmax of the
output layer's spike counts over T steps (lowest index on ties), the rule the compiled network is judged by.

    python examples/digits/train.py                    # direct encoding, T=16, H=128 -> examples/digits/model.pt
    python examples/digits/train.py --encoding rate --out examples/digits/model_rate.pt
"""

from __future__ import annotations

import argparse
import collections
import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from snncc.neurons import LIF, GradedInput, reset_states

if __package__ in (None, ""):  # run as a script: python examples/digits/train.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.digits.data import (  # noqa: E402
    ENCODINGS,
    EVAL_SEED,
    N_CLASSES,
    N_INPUTS,
    PIXEL_LEVELS,
    DigitsSplit,
    add_split_arguments,
    encode,
    split_from_arguments,
)
from examples.digits.training import fit, predict_counts, summed_output  # noqa: E402
from examples.digits.training import weight_noise as noise_perturbation  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "model.pt"

# Everything a saved model may consist of; what ``load_model`` passes to torch's weights_only loader (models saved
# by snncc 0.1 name its modules by their old paths, LEGACY_PATHS).
SAFE_GLOBALS: list = [nn.Sequential, nn.Linear, nn.Flatten, nn.Identity, nn.Dropout, LIF, GradedInput,
                      *((cls, path) for cls in (LIF, GradedInput) for path in cls.LEGACY_PATHS),
                      collections.OrderedDict, set]


def build_model(encoding: str = "direct", hidden: int = 128, beta: float = 0.9375, reset: str = "zero",
                threshold: float = 1.0, seed: int = 0) -> nn.Sequential:
    """The LIF MLP; ``GradedInput(16)`` first for direct encoding (the deployed payload is the pixel 0..16)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    torch.manual_seed(seed)
    layers: list[nn.Module] = [GradedInput(PIXEL_LEVELS)] if encoding == "direct" else []
    layers += [nn.Linear(N_INPUTS, hidden), LIF(beta=beta, threshold=threshold, reset=reset),
               nn.Linear(hidden, N_CLASSES), LIF(beta=beta, threshold=threshold, reset=reset)]
    return nn.Sequential(*layers)


spike_counts = summed_output  # output spike counts (B, 10) over a sequence (T, B, 64), from a fresh state


@torch.no_grad()
def output_counts(model: nn.Module, x: np.ndarray, encoding: str, timesteps: int,
                  rng: np.random.Generator | None = None, batch_size: int = 512) -> np.ndarray:
    """Spike counts (N, 10) of ``model`` on images ``x`` (N, 64) in [0, 1].

    Rate encoding draws all spikes at once from ``rng`` (default: ``default_rng(EVAL_SEED)``), so the model sees
    exactly ``payloads(x, timesteps, "rate", <a generator in the same state>)``.
    """
    if encoding == "rate" and rng is None:
        rng = np.random.default_rng(EVAL_SEED)
    seq = encode(x, timesteps, encoding, rng)
    out = [spike_counts(model, seq[:, i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.int64)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, encoding: str, timesteps: int,
             rng: np.random.Generator | None = None) -> float:
    """Accuracy (0..1) with the argmax-of-output-spike-counts rule (rate encoding: fixed-seed spikes)."""
    was_training = model.training
    model.eval()
    acc = float((predict_counts(output_counts(model, x, encoding, timesteps, rng)) == y).mean())
    model.train(was_training)
    return acc


def tie_rate(counts: np.ndarray) -> float:
    """Fraction of samples whose largest output count is shared by several classes (decided by lowest index)."""
    top = counts.max(axis=1, keepdims=True)
    return float(((counts == top).sum(axis=1) > 1).mean())


def fake_quantize(model: nn.Sequential, weight_bits: int = 8, decay_bits: int = 12) -> nn.Sequential:
    """A copy with what deployment rounds, in float: per-layer ``weight_bits`` signed weight mantissas
    (scale ``(2**(b-1)-1) / max|W|``), thresholds on that integer grid (per input payload unit), biases on a 64x
    finer grid (Loihi scales synaptic input and threshold by 2**6, not the bias), ``decay_bits`` decays.

    An approximation of the compiler's quantizer (no exponent limits, no truncation of the decayed state).
    """
    q = copy.deepcopy(model)
    qmax = (1 << (weight_bits - 1)) - 1
    one = 1 << decay_bits
    modules = list(q)
    payload_scale = 1.0  # float value of one input payload unit of the next Linear
    for k, m in enumerate(modules):
        if isinstance(m, GradedInput):
            payload_scale = 1.0 / m.levels
        if not isinstance(m, nn.Linear):
            continue
        with torch.no_grad():
            w_max = float(m.weight.abs().max()) * payload_scale
            lsb = w_max / qmax if w_max > 0 else 1.0  # float value of one weight-mantissa unit
            m.weight.copy_(torch.round(m.weight * payload_scale / lsb) * lsb / payload_scale)
            if m.bias is not None:
                m.bias.copy_(torch.round(m.bias / lsb * 64) * lsb / 64)
            nxt = modules[k + 1] if k + 1 < len(modules) else None
            if isinstance(nxt, LIF):
                nxt.threshold.copy_(torch.clamp(torch.round(nxt.threshold / lsb), min=1) * lsb)
                nxt.beta.copy_(1.0 - torch.round((1.0 - nxt.beta.clamp(0, 1)) * one) / one)
                nxt.current_decay.copy_(1.0 - torch.round((1.0 - nxt.current_decay) * one) / one)
        payload_scale = 1.0
    return q


@dataclass
class TrainResult:
    """The trained model (eval mode, state cleared), per-epoch metrics and the training time in seconds."""

    model: nn.Sequential
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def train(data: DigitsSplit, encoding: str = "direct", timesteps: int = 16, hidden: int = 128, epochs: int = 30,
          seed: int = 0, reset: str = "zero", beta: float = 0.9375, lr: float = 2e-3, batch_size: int = 64,
          loss_scale: float = 0.5, weight_noise: float = 2.0, verbose: bool = True) -> TrainResult:
    """Adam on cross-entropy of ``loss_scale * output spike counts``; returns the model and per-epoch metrics.

    ``weight_noise``: each batch runs with every weight moved by uniform noise of ``weight_noise`` 8-bit LSBs
    peak to peak (LSB = max|W| / 127 per layer); the gradient is applied to the clean weights. Training under
    the rounding error that deployment adds keeps the predictions stable when the weights are quantized.
    """
    model = build_model(encoding, hidden, beta, reset, seed=seed)
    res = fit(model, data, encoding, timesteps, epochs,
              score=lambda m: evaluate(m, data.x_test, data.y_test, encoding, timesteps), lr=lr,
              batch_size=batch_size, loss_scale=loss_scale, seed=seed,
              perturb=noise_perturbation(weight_noise) if weight_noise > 0 else None, verbose=verbose)
    return TrainResult(model, res.history, res.seconds)


def save_model(model: nn.Sequential, path: str | Path, timesteps: int, encoding: str) -> Path:
    """``torch.save`` the whole module, state cleared, with ``timesteps`` and ``encoding`` attributes."""
    reset_states(model)
    model.eval()
    model.timesteps = int(timesteps)
    model.encoding = str(encoding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path


def load_model(path: str | Path) -> nn.Sequential:
    """Load a saved model with torch's safe (weights_only) loader and the allow-list :data:`SAFE_GLOBALS`."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(path, weights_only=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoding", choices=ENCODINGS, default="direct")
    p.add_argument("--timesteps", type=int, default=16)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--reset", choices=("zero", "subtract"), default="zero")
    p.add_argument("--beta", type=float, default=0.9375,
                   help="membrane retention (default 15/16: exact in Loihi's 12-bit decay)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * output spike counts")
    p.add_argument("--weight-noise", type=float, default=2.0,
                   help="training weight noise, in 8-bit LSBs peak to peak (0 disables)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (the layers are tiny: one thread is fastest, and robust to a busy machine)")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = split_from_arguments(args, seed=args.seed)
    print(f"digits: {len(data.x_train)} train / {len(data.x_test)} test, encoding={args.encoding}, "
          f"T={args.timesteps}, hidden={args.hidden}, reset={args.reset}, beta={args.beta}")
    res = train(data, args.encoding, args.timesteps, args.hidden, args.epochs, args.seed, args.reset, args.beta,
                args.lr, args.batch_size, args.loss_scale, args.weight_noise)
    model = res.model
    counts = output_counts(model, data.x_test, args.encoding, args.timesteps)
    acc = float((predict_counts(counts) == data.y_test).mean())
    q = fake_quantize(model)
    q_counts = output_counts(q, data.x_test, args.encoding, args.timesteps)
    q_acc = float((predict_counts(q_counts) == data.y_test).mean())
    agree = float((predict_counts(q_counts) == predict_counts(counts)).mean())
    print(f"training time {res.seconds:.1f} s")
    print(f"float test accuracy: {100 * acc:.2f}%  (output ties {100 * tie_rate(counts):.2f}%)")
    print(f"8-bit fake-quantized test accuracy: {100 * q_acc:.2f}%  (ties {100 * tie_rate(q_counts):.2f}%, "
          f"same prediction as float on {100 * agree:.2f}%)")
    path = save_model(model, args.out, args.timesteps, args.encoding)
    loaded = load_model(path)
    check = evaluate(loaded, data.x_test, data.y_test, args.encoding, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); reloaded with the safe loader: "
          f"test accuracy {100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
