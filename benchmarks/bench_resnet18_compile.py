"""Compile time of a ResNet-18-sized SNN (CIFAR variant, 3x32x32 input, random seeded weights) for loihi2.

Builds the CIFAR ResNet-18 (3x3 stem conv, 4 stages of 2 BasicBlocks with 64/128/256/512 channels, stride 2 and a
1x1 conv + BN shortcut at stages 2-4, global average pooling, Linear 10) with a batch norm after every convolution
(folded by the frontend) and an snncc LIF after every convolution and the classifier; direct-encoded input. It is
compiled in memory with ``snncc.compiler.compile_model`` for one sample of two time steps, so that the compile
dominates the activity simulations ``compile_model`` runs for its reports; those are timed separately (a low LIF
threshold keeps the random network active in every layer, so they do real work).

Prints the wall-clock time of every pass with its share of the pipeline and of the whole compile, the other stages
(import, reference and float simulation, reports), the neurons (model layers and the relays the compiler adds), the
synapses (non-zero connections), the cores used against the lower bound, and the peak memory (``ru_maxrss``).

ResNet-18 needs more cores than one chip has (a few hundred against loihi2.yaml's single 128-core chip), so by
default the benchmark compiles for the stock 8-chip board ``loihi2-kapoho-point``, every figure the target's own (a
neuron of the last stage reads 512 x 3 x 3 + 1 = 4609 inputs, within Loihi 2's ~16,000 input axons per core).
``--chips N`` overrides the chip count (``--target loihi2 --width 16`` fits one chip); ``--input-axons N`` the input
axons per core.

Run: ``python benchmarks/bench_resnet18_compile.py [--width 64] [--timesteps 2] [--profile out.prof]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from snncc import SnnccError
from snncc.compiler import Options, compile_model
from snncc.neurons import LIF, GradedInput
from snncc.target import target_variant

INPUT_SHAPE = (3, 32, 32)
STAGE_MULTIPLIERS = (1, 2, 4, 8)
# target overrides so that the full-width model fits (see the module docstring)
DEFAULT_INPUT_AXONS = 0  # the target's own
DEFAULT_CHIPS = 0  # the target's own


def _lif(threshold: float) -> LIF:
    return LIF(beta=0.9, threshold=threshold)


class BasicBlock(nn.Module):
    """conv3x3-BN-LIF-conv3x3-BN, plus the identity (or 1x1 conv + BN) shortcut added as a current, then LIF."""

    def __init__(self, c_in: int, c_out: int, stride: int, threshold: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.lif1 = _lif(threshold)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.lif2 = _lif(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lif1(self.bn1(self.conv1(x)))
        return self.lif2(self.bn2(self.conv2(out)) + self.shortcut(x))


class SpikingResNet18(nn.Module):
    """The CIFAR ResNet-18 with LIF neurons; ``width`` is the first stage's channel count (64 in the original)."""

    def __init__(self, width: int = 64, num_classes: int = 10, in_shape: tuple[int, int, int] = INPUT_SHAPE,
                 threshold: float = 1.0) -> None:
        super().__init__()
        self.encode = GradedInput(16)
        self.unflatten = nn.Unflatten(1, in_shape)
        self.stem = nn.Conv2d(in_shape[0], width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.lif = _lif(threshold)
        blocks, c_in = [], width
        for i, mult in enumerate(STAGE_MULTIPLIERS):
            c_out = width * mult
            for j in range(2):
                blocks.append(BasicBlock(c_in, c_out, 2 if i > 0 and j == 0 else 1, threshold))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c_in, num_classes)
        self.out = _lif(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif(self.bn(self.stem(self.unflatten(self.encode(x)))))
        return self.out(self.fc(self.flatten(self.pool(self.blocks(x)))))


def build_resnet18(width: int = 64, seed: int = 0, in_shape: tuple[int, int, int] = INPUT_SHAPE,
                   threshold: float = 1.0) -> SpikingResNet18:
    """The model in eval mode with seeded random weights and batch-norm statistics (so folding is not trivial);
    a lower LIF ``threshold`` keeps the random network spiking deeper (more simulation work)."""
    torch.manual_seed(seed)
    model = SpikingResNet18(width, in_shape=in_shape, threshold=threshold)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.05, 0.05)
    return model.eval()


@dataclass
class CompileResult:
    """What one benchmark compile measured."""

    pass_seconds: dict[str, float]  # per pass of the pipeline, in order
    stage_seconds: dict[str, float]  # compile_model's stages: import, passes, simulations, reports
    total_seconds: float  # the whole compile_model call
    neurons: int
    relay_neurons: int  # added by the compiler (latency relays, pooling relays)
    synapses: int
    cores: int
    cores_lower_bound: int
    cores_lower_bound_by_limit: dict[str, int]
    layer_neurons: dict[str, int] = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def scaled_target(base: str | Path = "loihi2", chips: int | None = None, input_axons: int | None = None) -> Path | str:
    """``base`` with ``system.chips`` and ``core_limits.input_axons`` overridden (a temporary YAML), or ``base``."""
    overrides = {k: int(v) for k, v in (("system.chips", chips), ("core_limits.input_axons", input_axons)) if v}
    return target_variant(base, overrides, "benchmark override") if overrides else base


def compile_resnet(model: nn.Module, target: str | Path = "loihi2", timesteps: int = 2, samples: int = 1,
                   seed: int = 0) -> CompileResult:
    """Compile ``model`` in memory (no bundle folder) and collect the benchmark's figures from its report."""
    t0 = time.perf_counter()
    bundle = compile_model(model, target, options=Options(timesteps=timesteps, samples=samples, seed=seed))
    total = time.perf_counter() - t0
    report = bundle.manifest["report"]
    res = report["resources"]
    layers = res["layers"]
    relays = [n for n in layers if "relay" in str(bundle.graph.nodes[n].metadata.get("snncc.source", ""))]
    return CompileResult(
        pass_seconds=dict(report["pass_timings"]), stage_seconds=dict(report.get("stage_timings", {})),
        total_seconds=total,
        neurons=res["totals"]["neurons"], relay_neurons=sum(layers[n]["neurons"] for n in relays),
        synapses=sum(entry["synapses_nonzero"] for entry in layers.values()),
        cores=res["cores_used"], cores_lower_bound=res["cores_lower_bound"],
        cores_lower_bound_by_limit=dict(res["cores_lower_bound_by_limit"]),
        layer_neurons={n: entry["neurons"] for n, entry in layers.items()}, report=report)


def print_result(r: CompileResult, peak_rss_mib: float) -> None:
    """The benchmark's table: passes with their share of the pipeline and of the whole compile, then the rest."""
    passes = sum(r.pass_seconds.values())
    print(f"{'pass':<22}{'seconds':>9}{'of passes':>11}{'of total':>10}")
    for name, sec in r.pass_seconds.items():
        print(f"{name:<22}{sec:9.3f}{100 * sec / passes:10.1f}%{100 * sec / r.total_seconds:9.1f}%")
    print(f"{'all passes':<22}{passes:9.3f}{100.0:10.1f}%{100 * passes / r.total_seconds:9.1f}%")
    print("other stages of compile_model (activity simulation and reports):")
    for name, sec in r.stage_seconds.items():
        if name != "passes":
            print(f"  {name:<20}{sec:9.3f}{'':11}{100 * sec / r.total_seconds:9.1f}%")
    print(f"{'compile_model total':<22}{r.total_seconds:9.3f}{'':11}{100.0:9.1f}%")
    print(f"neurons   {r.neurons:,} in {len(r.layer_neurons)} layers ({r.neurons - r.relay_neurons:,} model, "
          f"{r.relay_neurons:,} relays added by the compiler)")
    print(f"synapses  {r.synapses:,} (non-zero connections)")
    bound = ", ".join(f"{k} {v}" for k, v in r.cores_lower_bound_by_limit.items())
    print(f"cores     {r.cores:,} used, lower bound {r.cores_lower_bound} ({r.cores / r.cores_lower_bound:.2f}x; "
          f"bound by limit: {bound})")
    binding: dict[str, list[int]] = {}
    for entry in r.report["resources"]["layers"].values():
        binding.setdefault(str(entry["binding_limit"]), []).append(entry["cores"])
    print("binding   " + ", ".join(f"{k}: {len(v)} layers on {sum(v)} blocks" for k, v in binding.items()))
    energy = r.report["energy"]
    pi, tm = energy["per_inference"], energy["target_model"]
    share = pi["messages_between_chips"] / pi["spike_messages"] if pi["spike_messages"] else 0.0
    print(f"chips     {tm['chips']} of {tm['chips_available']} used; {100 * share:.1f}% of spike messages between "
          f"chips, {pi['hops_per_message']:.2f} mesh hops per message")
    print(f"peak memory (ru_maxrss) {peak_rss_mib:,.0f} MiB")


def peak_rss_mib() -> float:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=64, help="channels of the first stage (64: ResNet-18)")
    ap.add_argument("--timesteps", type=int, default=2, help="time steps of the activity simulation")
    ap.add_argument("--threshold", type=float, default=0.25,
                    help="LIF threshold (0.25: the random network spikes in every layer; 1.0: silent after stage 1)")
    ap.add_argument("--samples", type=int, default=1, help="samples of the activity simulation")
    ap.add_argument("--target", default="loihi2-kapoho-point")
    ap.add_argument("--chips", type=int, default=DEFAULT_CHIPS, help="override the target's chip count (0: keep)")
    ap.add_argument("--input-axons", type=int, default=DEFAULT_INPUT_AXONS,
                    help="override the target's input axons per core (0: keep)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of the compile here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = build_resnet18(args.width, args.seed, threshold=args.threshold)
    target = scaled_target(args.target, args.chips, args.input_axons)
    changes = [f"{k} {v}" for k, v in (("chips", args.chips), ("input_axons", args.input_axons)) if v]
    overrides = f" with {', '.join(changes)}" if changes else ""
    print(f"spiking ResNet-18 (CIFAR), width {args.width}, input {'x'.join(map(str, INPUT_SHAPE))}, random weights "
          f"(seed {args.seed}), LIF threshold {args.threshold:g}; target {args.target}{overrides}; activity "
          f"simulation {args.samples} sample(s) x {args.timesteps} steps")
    try:
        if args.profile is not None:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(compile_resnet, model, target, args.timesteps, args.samples, args.seed)
            prof.dump_stats(args.profile)
        else:
            result = compile_resnet(model, target, args.timesteps, args.samples, args.seed)
    except SnnccError as exc:  # e.g. the model does not fit the target: one line, as the CLI prints it
        raise SystemExit(f"snncc: error: {exc}") from None
    print_result(result, peak_rss_mib())


if __name__ == "__main__":
    main()
