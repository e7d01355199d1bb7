"""Cores snncc maps lava-dl's own trained networks onto, next to the counts Intel's Loihi 2 compiler printed for them.

lava-dl's netx tutorial notebooks run each network on a Loihi 2 board and print the compiler's per-core table; its
total is the figure compared here (read from the notebooks' saved outputs, ``tutorials/lava/lib/dl/netx/*/``). The
``.net`` files are not part of the lava-dl wheel: pass a lava-dl source checkout (``git clone
https://github.com/lava-nc/lava-dl``) with ``--lava-dl``. Each network is compiled in memory for the stock
``loihi2`` target; a network snncc refuses is printed with its one-line reason.

Run: ``python benchmarks/bench_netx_cores.py --lava-dl PATH``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from snncc import SnnccError
from snncc.compiler import Options, compile_model

NOTEBOOKS = "tutorials/lava/lib/dl/netx"


@dataclass(frozen=True)
class Published:
    """One network of lava-dl's tutorials and the cores Intel's compiler used for it."""

    name: str
    net: str  # the .net file, relative to the lava-dl checkout
    intel_cores: int
    notebook: str  # where the compiler's table is printed


NETWORKS = (
    Published("MNIST MLP", f"{NOTEBOOKS}/mnist/trained_mnist_network.net", 5, f"{NOTEBOOKS}/mnist/run.ipynb"),
    Published("Oxford regression", f"{NOTEBOOKS}/oxford/Trained/network.net", 5, f"{NOTEBOOKS}/oxford/run.ipynb"),
    Published("PilotNet SNN (LIF)", f"{NOTEBOOKS}/pilotnet_snn/network.net", 74,
              f"{NOTEBOOKS}/pilotnet_snn/benchmark.ipynb"),
    Published("PilotNet SDNN", f"{NOTEBOOKS}/pilotnet_sdnn/network.net", 61,
              f"{NOTEBOOKS}/pilotnet_sdnn/benchmark.ipynb"),
)


def compile_cores(path: Path, timesteps: int) -> tuple[int, int, dict[str, int], float]:
    """Cores used, lower bound, blocks per layer and compile seconds of ``path`` for loihi2."""
    t0 = time.perf_counter()
    bundle = compile_model(path, "loihi2", options=Options(timesteps=timesteps, samples=1))
    res = bundle.manifest["report"]["resources"]
    return (res["cores_used"], res["cores_lower_bound"], {k: v["cores"] for k, v in res["layers"].items()},
            time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lava-dl", type=Path, required=True, help="a lava-dl source checkout")
    ap.add_argument("--timesteps", type=int, default=4, help="steps of the compile's activity simulation")
    args = ap.parse_args()
    print(f"{'network':<22}{'snncc cores':>12}{'bound':>7}{'Intel cores':>13}{'snncc/Intel':>13}{'seconds':>9}")
    for pub in NETWORKS:
        path = args.lava_dl / pub.net
        if not path.is_file():
            print(f"{pub.name:<22}  missing: {path}")
            continue
        try:
            cores, bound, layers, seconds = compile_cores(path, args.timesteps)
        except SnnccError as exc:
            print(f"{pub.name:<22}  refused: {exc}")
            continue
        print(f"{pub.name:<22}{cores:>12}{bound:>7}{pub.intel_cores:>13}{cores / pub.intel_cores:>12.2f}x"
              f"{seconds:>9.1f}")
        print(f"{'':<4}blocks per layer: " + ", ".join(f"{k} {v}" for k, v in layers.items()))
    print("Intel's counts: the compiler tables printed in", ", ".join(sorted({p.notebook for p in NETWORKS})))


if __name__ == "__main__":
    main()
