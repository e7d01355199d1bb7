"""Small torch models for tests (only torch.nn and snncc modules, so they pass the safe loader)."""

from __future__ import annotations

import torch
from torch import nn

from snncc import neurons as N


def mlp(sizes=(12, 16, 5), graded: bool = True, resets=("zero", "subtract"), beta: float = 0.9, seed: int = 0,
        threshold: float = 1.0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [N.GradedInput(8)] if graded else []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        reset = resets[i % len(resets)]
        layers.append(N.LIF(beta=beta, threshold=threshold, reset=reset) if i % 2 == 0
                      else N.IF(threshold=threshold, reset=reset))
    return nn.Sequential(*layers)
