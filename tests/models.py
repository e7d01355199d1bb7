"""Small torch models for tests (only torch.nn and snncc modules, so they pass the safe loader)."""

from __future__ import annotations

import numpy as np
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


def neuron_outputs(model: nn.Module, x: np.ndarray, currents: dict[nn.Module, list] | None = None
                   ) -> dict[str, np.ndarray]:
    """Payloads (batch, T, n) of every LIF/IF and multi-level module, by layer name (dots as underscores), when
    torch runs ``x`` (batch, T, n_in) step by step: spikes, or the level ``z`` (output / out_scale). ``currents``
    maps modules to lists that collect their input current (batch, n) at every step."""
    mods = {m: n.replace(".", "_") for n, m in model.named_modules() if isinstance(m, (N.LIF, N.MultiLevel))}
    rec: dict[str, list] = {n: [] for n in mods.values()}

    def record(mod: nn.Module, args: tuple, out: torch.Tensor) -> None:
        scale = mod.out_scale if isinstance(mod, N.MultiLevel) else 1.0
        rec[mods[mod]].append(np.rint(out.flatten(1).numpy() / scale) if scale != 1.0 else out.flatten(1).numpy())
        (currents or {}).get(mod, []).append(args[0].flatten(1))

    handles = [m.register_forward_hook(record) for m in mods]
    N.reset_states(model)
    with torch.no_grad():
        for t in range(x.shape[1]):
            model(torch.tensor(x[:, t], dtype=torch.float32))
    for h in handles:
        h.remove()
    return {n: np.stack(v, 1) for n, v in rec.items()}
