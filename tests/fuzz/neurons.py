"""Random neuron layers of every snncc family, over each constructor's whole legal range, bounds included.

Each maker draws the constructor's arguments from the range the constructor accepts, with a fair chance of an
extreme but legal value (a bound of the range, or a value far from the usual one), because a compiler's mistakes
sit at the edges: ``beta`` at 0 and 1, ``levels=1``, ``k`` at KLIF's bound ``tau / (tau - 1)``, thresholds tiny or
huge. A maker returns the module and a short label naming what it drew (for the description of the model).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from snncc import neurons as N
from snncc.families.klif.module import K_MIN

BINARY = ("LIF", "IF", "KLIF", "ARLIF")  # families whose layers emit binary spikes
GRADED = ("MultiLevel", "ASN", "NASN", "GroupNeuron")  # families whose layers emit integer levels (multi-level)
FAMILIES = BINARY + GRADED
EXTREME = 0.2  # chance that one argument takes an extreme value


def _pick(rng: np.random.Generator, usual: Callable[[], float], *extremes: float) -> float:
    """``usual()``, or (with probability EXTREME) one of the ``extremes``."""
    if extremes and rng.random() < EXTREME:
        return float(extremes[int(rng.integers(len(extremes)))])
    return float(usual())


def threshold(rng: np.random.Generator) -> float:
    """A positive threshold: mostly near the scale of the weights, sometimes tiny or huge (still legal)."""
    return _pick(rng, lambda: rng.uniform(0.1, 1.5), 1e-4, 1e-2, 20.0, 500.0)


def reset(rng: np.random.Generator) -> str:
    return str(rng.choice(["zero", "subtract"]))


def lif(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    r = reset(rng)
    tags.add(f"reset-{r}")
    beta = _pick(rng, lambda: rng.uniform(0.3, 1.0), 0.0, 1.0)
    # a synapse bias cannot reach a decaying current (a documented limitation): mostly keep the two apart
    decaying = rng.random() < (0.1 if bias else 0.5)
    decay = _pick(rng, lambda: rng.uniform(0.1, 0.8), 0.999) if decaying else 0.0
    th = threshold(rng)
    label = f"LIF(b={beta:.3g},th={th:.3g},{r},cd={decay:.3g})"
    return N.LIF(beta=beta, threshold=th, reset=r, current_decay=decay), label


def if_(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    r = reset(rng)
    tags.add(f"reset-{r}")
    th = threshold(rng)
    return N.IF(threshold=th, reset=r), f"IF(th={th:.3g},{r})"


def klif(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    r = reset(rng)
    tags.add(f"reset-{r}")
    tau = _pick(rng, lambda: rng.uniform(1.5, 8.0), 1.001, 1.1, 200.0)
    k_max = tau / (tau - 1.0)
    if rng.random() < 0.25:
        k = k_max  # at the constructor's bound: beta = 1
        tags.add("klif-k-at-bound")
    else:
        k = _pick(rng, lambda: rng.uniform(0.3, min(k_max, 1.8)), K_MIN, 0.5 * k_max)
    th = threshold(rng)
    decay_input = bool(rng.random() < 0.7)
    mod = N.KLIF(tau=tau, k=k, threshold=th, reset=r, decay_input=decay_input)
    return mod, f"KLIF(tau={tau:.4g},k={k:.6g},th={th:.3g},{r},di={int(decay_input)})"


def arlif(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    decay = _pick(rng, lambda: rng.uniform(0.2, 1.0), 0.0, 1.0)
    th = _pick(rng, lambda: rng.uniform(0.2, 1.5), 1e-3, 20.0)
    a = _pick(rng, lambda: rng.uniform(-2.0, 2.0), 0.0, -20.0, 20.0)
    c = _pick(rng, lambda: rng.uniform(-3.0, 3.0), 0.0, 50.0)
    deploy = bool(rng.random() < 0.3)
    mod = N.ARLIF(decay=decay, threshold=th, a=a, c=c, deploy_exact=deploy)
    return mod, f"ARLIF(d={decay:.3g},th={th:.3g},a={a:.3g},c={c:.3g},de={int(deploy)})"


def _levels(rng: np.random.Generator) -> int:
    return int(_pick(rng, lambda: rng.integers(2, 9), 1, 15, 31))


def multilevel(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    levels = _levels(rng)
    th = _pick(rng, lambda: 2.0 ** rng.integers(-4, 1) if rng.random() < 0.5 else rng.uniform(0.05, 1.0), 1e-3, 8.0)
    beta = _pick(rng, lambda: rng.uniform(0.5, 1.0), 0.0, 1.0)
    offset = _pick(rng, lambda: rng.uniform(0.0, 0.99), 0.0, 0.5, 0.999)
    out_scale = None if rng.random() < 0.6 else _pick(rng, lambda: rng.uniform(0.1, 2.0), 1e-3)
    mod = N.MultiLevel(levels=levels, threshold=th, beta=beta, offset=offset, out_scale=out_scale)
    return mod, f"MultiLevel(L={levels},th={th:.3g},b={beta:.3g},off={offset:.3g},os={out_scale})"


def asn(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    levels = _levels(rng)
    th = _pick(rng, lambda: rng.uniform(0.05, 1.0), 1e-3)
    beta = _pick(rng, lambda: rng.uniform(0.5, 1.0), 0.0, 1.0)
    return N.ASN(levels=levels, threshold=th, beta=beta), f"ASN(L={levels},th={th:.3g},b={beta:.3g})"


def nasn(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    levels = _levels(rng)
    th = _pick(rng, lambda: rng.uniform(0.05, 1.0), 1e-3)
    beta = _pick(rng, lambda: rng.uniform(0.5, 1.0), 0.0, 1.0)
    mod = N.NASN(levels=levels, features=features, threshold=th, beta=beta, affine=bool(rng.random() < 0.7))
    bn = mod.norm
    bn.running_mean.copy_(_tensor(rng.normal(0.0, 0.2, features)))
    bn.running_var.copy_(_tensor(rng.uniform(0.5, 2.0, features)))
    if bn.weight is not None:
        bn.weight.data.copy_(_tensor(rng.uniform(0.5, 1.5, features)))
        bn.bias.data.copy_(_tensor(rng.normal(0.0, 0.1, features)))
    return mod, f"NASN(L={levels},th={th:.3g},b={beta:.3g},affine={bn.weight is not None})"


def group_neuron(rng: np.random.Generator, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    """A Group Neuron, or (one in three) the QCFS activation ``convert_to_snn`` turns into one."""
    members = _levels(rng)
    theta = _pick(rng, lambda: rng.uniform(0.3, 3.0), 1e-3, 64.0)
    if rng.random() < 1 / 3:
        tags.add("qcfs-converted")  # generate() converts the model at the end
        return N.QCFS(levels=members, theta=theta), f"QCFS->GroupNeuron(m={members},theta={theta:.3g})"
    return N.GroupNeuron(members=members, theta=theta), f"GroupNeuron(m={members},theta={theta:.3g})"


MAKERS: dict[str, Callable[[np.random.Generator, int, bool, set[str]], tuple[nn.Module, str]]] = {
    "LIF": lif, "IF": if_, "KLIF": klif, "ARLIF": arlif,
    "MultiLevel": multilevel, "ASN": asn, "NASN": nasn, "GroupNeuron": group_neuron,
}


def neuron(rng: np.random.Generator, family: str, features: int, bias: bool, tags: set[str]) -> tuple[nn.Module, str]:
    """A layer of ``family`` for ``features`` neurons fed by a synapse with (``bias``) or without a bias."""
    return MAKERS[family](rng, features, bias, tags)


def _tensor(values: np.ndarray):
    import torch

    return torch.as_tensor(np.asarray(values, np.float32))
