"""Seeded random VALID models: ``generate(seed) -> (model, description)``, the same model for the same seed.

Every model is an ``nn.Sequential`` of torch.nn layers and snncc modules only (so the safe loader takes its file)
that torch runs, and that the README says snncc accepts: Linear, Conv2d (stride, padding, dilation, groups),
BatchNorm1d/2d after a synapse, AvgPool2d/AdaptiveAvgPool2d, Flatten/Unflatten, residual additions
(``snncc.neurons.Residual``: spike sums before a synapse, current sums before a neuron, with or without a
projection shortcut), binary or graded (``GradedInput``) input, and a neuron of any family after every synapse.
Sizes stay small (a compile takes a fraction of a second) but the values roam the constructors' whole legal
ranges (:mod:`tests.fuzz.neurons`) and the weights are sometimes tiny or huge, the fan-in sometimes wide and a
layer sometimes a single neuron. The description says what was drawn and carries tags for what the driver
reports by feature (``graded``, ``pool``, ``residual-sew``...), among them the shapes earlier fuzz runs found
wrongly refused (``klif-after-conv``...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from snncc import neurons as N
from tests.fuzz.neurons import FAMILIES, GRADED, neuron

VIAS = ("api", "file", "cli")  # how the driver hands the model to snncc: the module, a saved .pt, the command line


@dataclass
class Description:
    """What ``generate(seed)`` drew: enough to read a failure and to rebuild the model (from the seed)."""

    seed: int
    kind: str  # "dense" | "conv"
    layers: list[str] = field(default_factory=list)
    families: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    options: dict[str, Any] = field(default_factory=dict)  # pass options (snncc.Options.passes)
    timesteps: int = 4
    samples: int = 2
    via: str = "api"

    def text(self) -> str:
        """One line: seed, kind, options and the layers in order."""
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"seed {self.seed} {self.kind} T={self.timesteps} via={self.via} [{opts}]: " + " > ".join(self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "kind": self.kind, "layers": self.layers, "families": sorted(self.families),
                "tags": sorted(self.tags), "options": self.options, "timesteps": self.timesteps,
                "samples": self.samples, "via": self.via, "text": self.text()}


class _Builder:
    """Appends modules to a Sequential and tracks the shape of the tensor that flows out of the last one."""

    def __init__(self, rng: np.random.Generator, desc: Description, families: list[str]) -> None:
        self.rng, self.desc, self.families = rng, desc, families
        self.modules: list[nn.Module] = []
        self.shape: tuple[int, ...] = ()
        self.last = "input"  # what produced the current tensor: input, synapse kinds, neuron, residual, pool
        self.pool_remainder = False  # whether the last pooling dropped rows or columns of its map

    # ---- pieces ------------------------------------------------------------------------------------------------
    def add(self, module: nn.Module, label: str, last: str) -> None:
        self.modules.append(module)
        self.desc.layers.append(label)
        self.last = last

    def family(self) -> str:
        return str(self.rng.choice(self.families))

    def neuron(self, family: str | None = None, bias: bool = False, where: list[nn.Module] | None = None) -> None:
        """A neuron layer after the synapse just added (into ``where``, a residual body, when given)."""
        fam = family or self.family()
        if fam == "NASN" and len(self.shape) != 1:
            fam = "ASN"  # NASN normalizes features of a flat vector
        n = int(np.prod(self.shape))
        tags = self.desc.tags
        mod, label = neuron(self.rng, fam, n, bias, tags)
        if fam == "KLIF" and self.last in ("conv", "conv-bn"):
            tags.add("klif-after-conv")
        if fam == "KLIF" and self.last == "residual":
            tags.add("klif-after-residual")
        self.desc.families.add(fam)
        if where is not None:
            where.append(mod)
            self.desc.layers.append(label)
            self.last = "neuron"
        else:
            self.add(mod, label, "neuron")

    def linear(self, out: int, where: list[nn.Module] | None = None) -> bool:
        n_in = int(np.prod(self.shape))
        bias = bool(self.rng.random() < 0.4)
        mod = nn.Linear(n_in, out, bias=bias)
        (where if where is not None else self.modules).append(mod)
        self.desc.layers.append(f"Linear({n_in},{out},b={int(bias)})")
        self.shape, self.last = (out,), "linear"
        if self.rng.random() < 0.15:
            bn = batch_norm(self.rng, nn.BatchNorm1d(out, affine=bool(self.rng.random() < 0.7)))
            (where if where is not None else self.modules).append(bn)
            self.desc.layers.append("BatchNorm1d")
            self.desc.tags.add("batchnorm")
        return bias

    def conv(self, out: int | None = None, same: bool = False, where: list[nn.Module] | None = None) -> bool:
        """A Conv2d of random geometry (``same``: kernel 3 or 1, padding keeping the map) on the current map."""
        rng = self.rng
        c, h, w = self.shape
        out = out or int(rng.integers(1, 7))
        for _ in range(50):
            if same:
                k, s, d = int(rng.choice([1, 3])), 1, int(rng.choice([1, 1, 2]))
                p = d * (k - 1) // 2
            else:
                k, s = int(rng.integers(1, 4)), int(rng.choice([1, 1, 2]))
                d = int(rng.choice([1, 1, 2])) if k > 1 else 1
                p = int(rng.integers(0, 2))
            groups = int(rng.choice([g for g in range(1, c + 1) if c % g == 0 and out % g == 0]))
            oh, ow = ((x + 2 * p - d * (k - 1) - 1) // s + 1 for x in (h, w))
            if oh >= 1 and ow >= 1:
                break
        else:  # the map is too small for anything else
            k, s, p, d, groups, oh, ow = 1, 1, 0, 1, 1, h, w
        bias = bool(rng.random() < 0.4)
        mod = nn.Conv2d(c, out, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
        (where if where is not None else self.modules).append(mod)
        self.desc.layers.append(f"Conv2d({c},{out},k{k},s{s},p{p},d{d},g{groups},b={int(bias)})")
        if self.last == "pool" and d > 1:
            self.desc.tags.add("pool-then-dilated-conv")
        if self.last == "pool" and p > 0 and self.pool_remainder:
            self.desc.tags.add("pool-remainder-then-padded-conv")
        self.desc.tags.add("conv")
        self.shape, self.last = (out, oh, ow), "conv"
        if rng.random() < 0.25:
            bn = batch_norm(rng, nn.BatchNorm2d(out, affine=bool(rng.random() < 0.7)))
            (where if where is not None else self.modules).append(bn)
            self.desc.layers.append("BatchNorm2d")
            self.desc.tags.add("batchnorm")
            self.last = "conv-bn"
        return bias

    def pool(self) -> None:
        """An average pooling of the current spike map: mostly fusable (stride == kernel), sometimes global
        (AdaptiveAvgPool2d(1)) or a uniform adaptive one."""
        c, h, w = self.shape
        r = self.rng.random()
        self.pool_remainder = False
        if r < 0.6 and min(h, w) >= 2:
            k = int(self.rng.integers(2, min(h, w, 3) + 1))
            mod, label, (oh, ow) = nn.AvgPool2d(k), f"AvgPool2d({k})", (h // k, w // k)
            self.pool_remainder = bool(h % k or w % k)  # torch drops the last rows / columns
        else:
            oy = int(self.rng.choice([d for d in range(1, h + 1) if h % d == 0]))
            ox = int(self.rng.choice([d for d in range(1, w + 1) if w % d == 0]))
            mod, label, (oh, ow) = nn.AdaptiveAvgPool2d((oy, ox)), f"AdaptiveAvgPool2d({oy},{ox})", (oy, ox)
            self.desc.tags.add("adaptive-pool")
        self.desc.tags.add("pool")
        self.add(mod, label, "pool")
        self.shape = (c, oh, ow)

    # ---- residual blocks ---------------------------------------------------------------------------------------
    def residual(self, conv: bool) -> str:
        """A residual block on the current spikes: ``sew`` (spikes + spikes, a synapse must follow) or ``current``
        (synapse current + spikes or + a projection's current, a neuron must follow). Returns which."""
        rng, shape = self.rng, self.shape
        body: list[nn.Module] = []
        kind = "sew" if rng.random() < 0.5 else "current"
        if conv and min(shape[1:]) >= 3 and rng.random() < 0.25:
            return self._downsample()
        self.desc.layers.append(f"Residual[{kind}](")
        if conv:
            self.conv(out=shape[0], same=True, where=body)
        else:
            self.linear(shape[0], where=body)
        self.neuron(where=body)
        shortcut = None
        if kind == "current":
            if conv:
                self.conv(out=shape[0], same=True, where=body)
            else:
                self.linear(shape[0], where=body)
            if rng.random() < 0.4:  # a projection shortcut: the sum of two currents
                shortcut = (nn.Conv2d(shape[0], shape[0], 1, bias=False) if conv
                            else nn.Linear(shape[0], shape[0], bias=False))
                self.desc.layers.append("shortcut=" + type(shortcut).__name__)
        self.desc.layers.append(")")
        self.modules.append(N.Residual(nn.Sequential(*body), shortcut))
        self.shape, self.last = shape, "residual"
        self.desc.tags.add(f"residual-{kind}")
        return kind


    def _downsample(self) -> str:
        """A ResNet downsample block: a strided 3x3 conv, a neuron and a 3x3 conv, plus a strided 1x1 shortcut
        (both currents summed before the next neuron)."""
        rng = self.rng
        c, h, w = self.shape
        out = int(rng.integers(1, 7))
        self.desc.layers.append("Residual[down](")
        body: list[nn.Module] = [nn.Conv2d(c, out, 3, stride=2, padding=1, bias=False)]
        self.desc.layers.append(f"Conv2d({c},{out},k3,s2,p1)")
        self.shape, self.last = (out, (h - 1) // 2 + 1, (w - 1) // 2 + 1), "conv"
        self.neuron(where=body)
        self.conv(out=out, same=True, where=body)
        shortcut = nn.Sequential(nn.Conv2d(c, out, 1, stride=2, bias=False))
        if rng.random() < 0.5:
            shortcut.append(batch_norm(rng, nn.BatchNorm2d(out)))
        self.desc.layers += ["shortcut=Conv2d(1x1,s2)", ")"]
        self.modules.append(N.Residual(nn.Sequential(*body), shortcut))
        self.last = "residual"
        self.desc.tags.add("residual-current")
        self.desc.tags.add("residual-downsample")
        return "current"


def batch_norm(rng: np.random.Generator, bn: nn.Module) -> nn.Module:
    """A batch norm with random running statistics (and affine parameters): what folding has to get right."""
    n = bn.num_features
    bn.running_mean.copy_(torch.as_tensor(rng.normal(0.0, 0.3, n), dtype=torch.float32))
    bn.running_var.copy_(torch.as_tensor(rng.uniform(0.3, 3.0, n), dtype=torch.float32))
    if bn.weight is not None:
        bn.weight.data.copy_(torch.as_tensor(rng.uniform(0.3, 2.0, n) * rng.choice([-1, 1], n), dtype=torch.float32))
        bn.bias.data.copy_(torch.as_tensor(rng.normal(0.0, 0.2, n), dtype=torch.float32))
    return bn


def _dense(b: _Builder) -> None:
    rng = b.rng
    r = rng.random()
    n_in = int(rng.integers(1500, 5000)) if r < 0.05 else 1 if r < 0.1 else int(rng.integers(2, 33))
    if n_in > 1000:
        b.desc.tags.add("wide-fan-in")
    b.shape = (n_in,)
    hidden = int(rng.integers(1, 4))
    for i in range(hidden + 1):
        last = i == hidden
        width = int(rng.integers(1, 11)) if last else (1 if rng.random() < 0.08 else int(rng.integers(2, 25)))
        if width == 1:
            b.desc.tags.add("single-neuron")
        b.neuron(bias=b.linear(width))
        if not last and rng.random() < 0.3 and b.residual(conv=False) == "current":
            b.neuron(bias=True)  # reads the sum (a SEW sum is read by the next Linear)


def _conv(b: _Builder) -> None:
    rng = b.rng
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 10)), int(rng.integers(3, 10))
    b.shape = (c, h, w)
    b.add(nn.Unflatten(1, (c, h, w)), f"Unflatten({c},{h},{w})", "input")
    for i in range(int(rng.integers(1, 4))):
        if i and rng.random() < 0.35 and min(b.shape[1:]) >= 2:
            b.pool()
        bias = b.conv()
        b.neuron(bias=bias)
        if rng.random() < 0.25:
            if b.residual(conv=True) == "current":
                b.neuron(bias=True)
            else:
                b.conv()  # a SEW sum feeds a synapse
                b.neuron()
    head = rng.random()
    if head < 0.2:
        return  # the output is the last spike map
    if head < 0.55 and min(b.shape[1:]) >= 2:
        b.pool()
    b.add(nn.Flatten(), "Flatten", b.last)
    b.shape = (int(np.prod(b.shape)),)
    bias = b.linear(int(rng.integers(1, 11)))
    b.neuron(bias=bias)


def _init_weights(rng: np.random.Generator, model: nn.Module, desc: Description) -> None:
    """Weights drawn from the seed, ``gain / sqrt(fan-in)`` uniform, the gain sometimes tiny or huge."""
    for mod in model.modules():
        if not isinstance(mod, (nn.Linear, nn.Conv2d)):
            continue
        fan_in = int(np.prod(mod.weight.shape[1:]))
        r = rng.random()
        gain = 1e-5 if r < 0.04 else 1e4 if r < 0.08 else float(rng.uniform(0.5, 4.0))
        if r < 0.08:
            desc.tags.add("tiny-weights" if gain < 1 else "huge-weights")
        w = rng.uniform(-1.0, 1.0, tuple(mod.weight.shape)) * gain / math.sqrt(fan_in)
        if rng.random() < 0.1:
            w = np.where(rng.random(w.shape) < 0.7, 0.0, w)  # mostly zero (sparse)
        mod.weight.data.copy_(torch.as_tensor(w, dtype=torch.float32))
        if mod.bias is not None:
            mod.bias.data.copy_(torch.as_tensor(rng.normal(0.0, 0.2, mod.bias.shape[0]) * min(gain, 4.0),
                                                dtype=torch.float32))


def _options(rng: np.random.Generator, desc: Description) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if "ARLIF" in desc.families and rng.random() < 0.5:
        opts["arlif"] = "stock"
    dense_chain = desc.kind == "dense" and not any(t.startswith("residual") for t in desc.tags)
    if desc.families and desc.families <= set(GRADED) and dense_chain and rng.random() < 0.6:
        opts["multilevel"] = "substep"
    if rng.random() < 0.2:
        opts["bias_resolution"] = "fine"
    return opts


def generate(seed: int) -> tuple[nn.Sequential, Description]:
    """The model of ``seed`` (in eval mode) and its description; the same for the same seed, in any process."""
    rng = np.random.default_rng([seed, 0x5EED])
    family = FAMILIES[seed % len(FAMILIES)]  # every family comes round, also in a short run
    palette = [family] if rng.random() < 0.5 else [family, *rng.choice(FAMILIES, int(rng.integers(1, 3)))]
    kind = "conv" if rng.random() < 0.45 else "dense"
    desc = Description(seed=seed, kind=kind, timesteps=int(rng.integers(1, 9)), samples=int(rng.integers(1, 4)),
                       via=VIAS[int(rng.integers(len(VIAS)))])
    b = _Builder(rng, desc, [str(f) for f in palette])
    if rng.random() < 0.3:
        levels = int(rng.choice([1, 2, 7, 255, 65536]))
        b.add(N.GradedInput(levels), f"GradedInput({levels})", "input")
        desc.tags.add("graded-input")
    else:
        desc.tags.add("binary-input")
    _conv(b) if kind == "conv" else _dense(b)
    model = nn.Sequential(*b.modules)
    _init_weights(rng, model, desc)
    if "qcfs-converted" in desc.tags:  # an ANN with QCFS activations, converted as a user would
        model = N.convert_to_snn(model)
    desc.options = _options(rng, desc)
    desc.tags.add(f"kind-{kind}")
    return model.eval(), desc
