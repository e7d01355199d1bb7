"""The training loop shared by every digits example (LIF and the seed neurons).

Adam with a cosine schedule on the cross-entropy of the model's output summed over T steps, optionally under a
per-batch weight perturbation whose gradient updates the clean weights (weight noise of a few 8-bit LSBs keeps
predictions stable once the compiler quantizes the weights).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from examples.digits.data import DigitsSplit, encode
from snncc.neurons import reset_states

Perturb = Callable[[nn.Module], list[tuple[torch.Tensor, torch.Tensor]]]


def summed_output(model: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    """The model's output summed over the sequence ``seq`` (T, B, 64), from a fresh state (differentiable)."""
    reset_states(model)
    seq = seq.to(next(model.parameters()).dtype)  # float64 for a model in deploy-exact (QAT) mode
    total = torch.zeros(())
    for x_t in seq:
        total = total + model(x_t)
    reset_states(model)
    return total


def predict_counts(counts: torch.Tensor | np.ndarray) -> np.ndarray:
    """Predicted class per sample: argmax of the summed outputs, the lowest index on ties."""
    c = counts.detach().cpu().numpy() if isinstance(counts, torch.Tensor) else np.asarray(counts)
    return np.argmax(c, axis=1)  # numpy returns the first maximum


def weight_noise(lsbs: float) -> Perturb:
    """A batch perturbation: uniform noise of ``lsbs`` 8-bit LSBs (max|W|/127 per layer) on every Linear weight."""
    def perturb(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
        saved = []
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    lsb = float(m.weight.abs().max()) / 127
                    saved.append((m.weight, m.weight.detach().clone()))
                    m.weight.add_((torch.rand_like(m.weight) - 0.5) * (lsbs * lsb))
        return saved

    return perturb


@dataclass
class FitResult:
    """Per-epoch metrics and the training time in seconds."""

    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    selected_epoch: int | None = None  # with ``select``: the epoch whose parameters were kept (0: none improved)


def fit(model: nn.Module, data: DigitsSplit, encoding: str, timesteps: int, epochs: int,
        score: Callable[[nn.Module], float] | None, lr: float = 2e-3, batch_size: int = 64, loss_scale: float = 0.5,
        seed: int = 0, perturb: Perturb | None = None, param_groups: list[dict] | None = None,
        perturb_eval: bool = False, verbose: bool = True, label: str = "", teacher: nn.Module | None = None,
        distill: float = 1.0, select: Callable[[nn.Module], float] | None = None) -> FitResult:
    """Train ``model`` in place; ``score(model)`` gives the per-epoch test accuracy (``None``: not measured).

    ``perturb(model)`` runs before each batch's forward pass and returns ``(weight, clean value)`` pairs that are
    restored before the optimizer step: the gradient of the perturbed forward pass updates the clean weights (weight
    noise, or a straight-through fake quantization of the weights). ``perturb_eval``: the per-epoch test accuracy is
    measured with the perturbation applied too (for a deterministic fake quantization).

    ``teacher``: knowledge distillation; the loss adds ``distill`` x the KL divergence from the teacher's output
    distribution (``softmax(loss_scale * summed output)`` on the same inputs) to the model's. ``select(model)``:
    checkpoint selection; it is scored before the first epoch and after each, and the parameters with the highest
    score (the earliest on ties) are restored at the end (``FitResult.selected_epoch``; 0 = as given).
    """
    params = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad]}]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    y_train = torch.from_numpy(data.y_train)
    result = FitResult()
    best = None
    if select is not None:
        best, result.selected_epoch = (select(model), copy.deepcopy(model.state_dict())), 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(data.x_train))
        total, loss_sum, correct = 0, 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            clean = perturb(model) if perturb is not None else []
            seq = encode(data.x_train[idx], timesteps, encoding, rng)
            out = summed_output(model, seq)
            loss = loss_fn(loss_scale * out, y_train[idx])
            if teacher is not None:
                loss = loss + distill * distillation(loss_scale * out, loss_scale * _teacher_output(teacher, seq))
            opt.zero_grad()
            loss.backward()
            _restore(clean)
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((predict_counts(out) == data.y_train[idx]).sum())
            total += len(idx)
        sched.step()
        clean = perturb(model) if (perturb is not None and perturb_eval and score is not None) else []
        test_acc = score(model) if score is not None else float("nan")
        _restore(clean)
        row = {"epoch": epoch, "loss": loss_sum / total, "train_acc": correct / total, "test_acc": test_acc}
        if best is not None:
            row["selection"] = select(model)
            if row["selection"] > best[0]:
                best, result.selected_epoch = (row["selection"], copy.deepcopy(model.state_dict())), epoch
        result.history.append(row)
        if verbose:
            print(f"{label}epoch {epoch:3d}  loss {row['loss']:.4f}  train acc {100 * row['train_acc']:6.2f}%  "
                  f"test acc {100 * test_acc:6.2f}%  ({time.perf_counter() - start:5.1f} s)", flush=True)
    result.seconds = time.perf_counter() - start
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    reset_states(model)
    return result


@torch.no_grad()
def _teacher_output(teacher: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    was_training = teacher.training
    teacher.eval()
    out = summed_output(teacher, seq)
    teacher.train(was_training)
    return out


def distillation(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(teacher || model) of the two output distributions, averaged over the batch."""
    target = torch.log_softmax(teacher_logits.to(logits.dtype), dim=1)
    return nn.functional.kl_div(torch.log_softmax(logits, dim=1), target, reduction="batchmean", log_target=True)


def _restore(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for w, w0 in saved:
            w.copy_(w0)
