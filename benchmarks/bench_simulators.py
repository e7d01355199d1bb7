"""Per-sample time of every simulator on one network and one input set, side by side: Lava fixed_pt, snncc's
reference simulator at batch 1, 16 and 256, and torch's float forward of the same model at the same batches.

The network is issue 20's: a 200-400-400-200 LIF MLP of snncc modules (``snncc.neurons.LIF``), binary input, 100
steps, seeded weights scaled so every layer spikes. It is compiled in memory for loihi2; the reference and Lava
run the compiled bundle (``Bundle.run``), torch runs the model step by step (``torch.no_grad``, its own threads).
Each batch size is timed over the same total of samples; the first call of each simulator is a warm-up, not
timed. The last lines check reference == Lava bit for bit on the Lava samples and print the ratios.

Run: ``python benchmarks/bench_simulators.py [--samples 256] [--lava-samples 2] [--steps 100]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from snncc.compiler import Options, compile_model
from snncc.neurons import LIF, reset_states

SIZES = (200, 400, 400, 200)
BATCHES = (1, 16, 256)


def build(seed: int = 0) -> nn.Sequential:
    """The LIF MLP, weights scaled so that binary input at 20% keeps every layer active."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.mul_(4.0)
        layers += [linear, LIF(beta=0.9, threshold=1.0)]
    return nn.Sequential(*layers).eval()


def torch_forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The float model step by step over ``x`` (batch, T, n_in); the last layer's spikes (batch, T, n_out)."""
    reset_states(model)
    out = []
    with torch.no_grad():
        xt = torch.from_numpy(x.astype(np.float32))
        for t in range(x.shape[1]):
            out.append(model(xt[:, t]))
    return torch.stack(out, 1).numpy()


def per_sample(fn, x: np.ndarray, batch: int) -> float:
    """Seconds per sample of ``fn`` over ``x`` cut into batches of ``batch`` (after one warm-up batch)."""
    fn(x[:batch])
    t0 = time.perf_counter()
    for start in range(0, len(x), batch):
        fn(x[start:start + batch])
    return (time.perf_counter() - t0) / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256, help="samples timed per batch size")
    ap.add_argument("--lava-samples", type=int, default=2, help="samples run on Lava (about a second each)")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = build(args.seed)
    rng = np.random.default_rng(args.seed)
    x = (rng.random((max(args.samples, max(BATCHES)), args.steps, SIZES[0])) < 0.2).astype(np.int64)
    bundle = compile_model(model, "loihi2", options=Options(timesteps=args.steps, samples=4, seed=args.seed))
    print(f"LIF MLP {'-'.join(map(str, SIZES))}, binary input (20%), {args.steps} steps; torch threads "
          f"{torch.get_num_threads()}")
    rows: dict[str, float] = {}
    lava_x = x[:args.lava_samples]
    t0 = time.perf_counter()
    lava = bundle.run(lava_x, backend="lava")
    rows["lava fixed_pt, all samples in one run"] = (time.perf_counter() - t0) / len(lava_x)
    for b in BATCHES:
        rows[f"reference, batch {b}"] = per_sample(lambda xs: bundle.run(xs, backend="reference"), x, b)
    for b in BATCHES:
        rows[f"torch float forward, batch {b}"] = per_sample(lambda xs: torch_forward(model, xs), x, b)
    lava_s = rows["lava fixed_pt, all samples in one run"]
    print(f"{'simulator':<40}{'ms / sample':>12}{'vs Lava':>10}{'vs torch (same batch)':>23}")
    for name, sec in rows.items():
        batch = name.rsplit(" ", 1)[-1]
        torch_s = rows.get(f"torch float forward, batch {batch}")
        vs_torch = f"{torch_s / sec:.2f}x" if torch_s and name.startswith("reference") else ""
        print(f"{name:<40}{1e3 * sec:>12.2f}{lava_s / sec:>9.1f}x{vs_torch:>23}")
    ref = bundle.run(lava_x, backend="reference")
    same = all(np.array_equal(ref.layers[k].spikes, lava.layers[k].spikes) for k in ref.layers)
    print(f"reference == Lava on the {len(lava_x)} Lava samples (spikes of every layer): {'yes' if same else 'NO'}")
    rates = ", ".join(f"{k} {float(np.mean(t.spikes != 0)):.3f}" for k, t in ref.layers.items())
    print(f"spikes per neuron and step: {rates}")


if __name__ == "__main__":
    main()
