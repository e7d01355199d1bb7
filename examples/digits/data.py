"""scikit-learn's bundled 8x8 handwritten digits (offline), a fixed split, and the two input encodings.

* ``direct``: every time step carries the same image. The float model sees ``x = pixel / 16`` in [0, 1]; its first
  module, ``snncc.neurons.GradedInput(levels=16)``, makes the deployed payload exactly the integer pixel 0..16.
* ``rate``: every time step carries Bernoulli spikes with ``P(spike) = x`` (the model has no GradedInput; the
  deployed payload is the 0/1 spike).

:func:`encode` produces the (T, B, 64) float tensor the torch model is run on; :func:`payloads` produces the
(N, T, 64) int64 array the deployed network (and snncc's simulators) receive. For ``rate``, two generators in the
same state give the same spikes to both functions.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split

ENCODINGS = ("direct", "rate")
PIXEL_LEVELS = 16  # load_digits pixels are integers 0..16
N_INPUTS = 64
N_CLASSES = 10
EVAL_SEED = 12345  # rate encoding: evaluation spikes are payloads(x, T, "rate", np.random.default_rng(EVAL_SEED))


@dataclass(frozen=True)
class DigitsSplit:
    """Train/test images scaled to [0, 1] (float32, (N, 64)) and labels (int64, (N,))."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = 0, test_size: float = 0.2) -> DigitsSplit:
    """The 1797 digits, split stratified 80/20 with ``random_state=seed``; pixels scaled to ``x / 16``."""
    digits = load_digits()
    x = (digits.data / PIXEL_LEVELS).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return DigitsSplit(x_tr, y_tr, x_te, y_te)


def load_digits_fold(fold: int, folds: int = 5, seed: int = 0) -> DigitsSplit:
    """Fold ``fold`` of a stratified ``folds``-fold partition of all 1797 digits (shuffled with ``seed``): that
    fold is the test set, the others the training set. Over the folds every image is a test image exactly once,
    which is how a quantization loss far below one test image in 360 is measured (benchmarks/)."""
    if not 2 <= folds <= 10 or not 0 <= fold < folds:
        raise ValueError(f"need 0 <= fold < folds and 2 <= folds <= 10, got fold {fold} of {folds}")
    digits = load_digits()
    x = (digits.data / PIXEL_LEVELS).astype(np.float32)
    y = digits.target.astype(np.int64)
    train, test = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))[fold]
    return DigitsSplit(x[train], y[train], x[test], y[test])


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """``--fold K [--folds N]`` on a training command: train on the other folds instead of the fixed 80/20 split."""
    parser.add_argument("--fold", type=int, default=None,
                        help="train on all but this fold of a stratified k-fold partition (default: the 80/20 split)")
    parser.add_argument("--folds", type=int, default=5, help="the number of folds for --fold")


def split_from_arguments(args: argparse.Namespace, seed: int = 0) -> DigitsSplit:
    """The split a training command asked for: fold ``args.fold`` of ``args.folds``, else the 80/20 split."""
    if args.fold is None:
        return load_digits_split(seed=seed)
    return load_digits_fold(args.fold, args.folds)


def _check(x: np.ndarray, timesteps: int, encoding: str) -> np.ndarray:
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be shaped (N, features), got {x.shape}")
    return x


def _rate_spikes(x: np.ndarray, timesteps: int, rng: np.random.Generator | None) -> np.ndarray:
    """Bernoulli spikes (T, N, F) as bool, ``P = clip(x, 0, 1)``; drawn as one ``rng.random((T, N, F))`` call."""
    if rng is None:
        raise ValueError("rate encoding needs a numpy Generator (rng)")
    return rng.random((timesteps, *x.shape)) < np.clip(x, 0.0, 1.0)[None]


def encode(x: np.ndarray, timesteps: int, encoding: str = "direct",
           rng: np.random.Generator | None = None) -> torch.Tensor:
    """Float input sequence (T, B, F) for the torch model: ``x`` repeated (direct) or Bernoulli spikes (rate)."""
    x = _check(x, timesteps, encoding)
    if encoding == "direct":
        seq = np.broadcast_to(x[None], (timesteps, *x.shape))
    else:
        seq = _rate_spikes(x, timesteps, rng)
    return torch.from_numpy(np.array(seq, dtype=np.float32))  # a writable copy (broadcast views are read-only)


def payloads(x: np.ndarray, timesteps: int, encoding: str = "direct",
             rng: np.random.Generator | None = None) -> np.ndarray:
    """What the deployed network receives, int64 (N, T, F): pixels 0..16 repeated (direct) or 0/1 spikes (rate)."""
    x = _check(x, timesteps, encoding)
    if encoding == "direct":
        p = np.rint(np.clip(x, 0.0, 1.0) * PIXEL_LEVELS).astype(np.int64)
        return np.ascontiguousarray(np.broadcast_to(p[:, None, :], (p.shape[0], timesteps, p.shape[1])))
    return np.ascontiguousarray(_rate_spikes(x, timesteps, rng).transpose(1, 0, 2)).astype(np.int64)


def main(argv: list[str] | None = None) -> None:
    """Write the payloads and labels of all 1797 digits (or the test split) as .npy files for ``snncc run``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", default="build/digits-data", help="folder for inputs.npy and labels.npy")
    parser.add_argument("--timesteps", type=int, default=16)
    parser.add_argument("--encoding", choices=("direct", "rate"), default="direct")
    parser.add_argument("--test-only", action="store_true", help="only the 360 test images of the default split")
    args = parser.parse_args(argv)
    if args.test_only:
        split = load_digits_split(seed=0)
        x, y = split.x_test, split.y_test
    else:
        digits = load_digits()
        x, y = (digits.data / PIXEL_LEVELS).astype(np.float32), digits.target.astype(np.int64)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "inputs.npy", payloads(x, args.timesteps, args.encoding, np.random.default_rng(EVAL_SEED)))
    np.save(out / "labels.npy", y)
    print(f"wrote {len(y)} samples: {out / 'inputs.npy'} and {out / 'labels.npy'}")


if __name__ == "__main__":
    main()
