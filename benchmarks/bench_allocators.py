"""Placement benchmark: nengo-loihi's allocator test rebuilt as an snncc integer graph, every placer side by side.

The network is the one of ``test_interchip_allocators`` in nengo-loihi (``nengo_loihi/hardware/tests/
test_allocators.py``), redrawn here in the same order from ``numpy.random.RandomState(1)``: 256 ensembles of
``randint(64, 256)`` neurons, 512 connections between random pairs ``randint(0, 256, (512, 2))``, each a full
neuron-to-neuron matrix of ``uniform(-0.1, 0.1)`` weights (here mantissas ``round(w * 1270)``, 8-bit), and per
ensemble the firing rates ``uniform(1, 100) * uniform(0.9, 1, n)`` (Hz). The ensembles become QLIF layers in index
order; a connection from an ensemble to itself or an earlier one is a recurrent synapse (so the graph has no
cycle), two connections of one pair are one synapse (a spike reaches a core once). The rates (spikes per 1 ms
step) go into each layer's ``snncc.spike_rates``, which the traffic weights of the placers read. Three chips of
the target (loihi, the Loihi 1 of nengo-loihi: 128 cores a chip, 1,024 neurons a core).

Mappers:
  * ``serpentine``, ``greedy``: snncc's packing (blocks of up to ``neuron_groups`` layers share a core), then the
    placer;
  * ``metis``: what nengo-loihi's ``PartitionInterchip`` does: one block per core (no sharing), METIS (pymetis,
    only the benchmark's) into all the chips, each chip's cores in network order;
  * ``traffic 1/core``: one block per core, then snncc's traffic placer (Mt-KaHyPar into the fewest chips, chips
    ordered, recursive bisection and swaps on each chip's mesh);
  * ``snncc``: packing, then the traffic placer (the default).

Share of spikes crossing chips: spike messages between chips / all spike messages, from the rates (nengo-loihi's
``estimate_interchip_activity`` with ``block_rates``: a block's rate summed per connection to another block; here a
neuron's spike counted once per destination core, and messages within a core in the total). Mean hops: on-chip
mesh hops per message between cores of one chip. ``cores/bound``: cores used against the resource report's lower
bound (every core full). Times: the partition pass (packing included) and the placement.

The ``--million`` scenario: the same random-ensemble structure scaled to about a million neurons (``--ensembles``
of 64-192 neurons, ``--fan-in`` connections each) on the 8-chip loihi2-kapoho-point target; prints cores vs bound,
chips, inter-chip share, pass times and the peak memory (``ru_maxrss``). ``--million --dense``: the allocator
test's own dense connections between 64-256-neuron ensembles, scaled to 6,250 ensembles (about a million neurons,
160 M synapses) on a 64-chip variant of the board.

Run: ``python benchmarks/bench_allocators.py``, ``... --million`` or ``... --million --dense``.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import nir
import numpy as np

from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, IntegerNeuron, QConv, QDense, keys
from snncc.mapping import Mapping
from snncc.mapping.coregraph import core_traffic
from snncc.mapping.graphcut import integer_weights
from snncc.mapping.traffic import chip_cells, cores_of
from snncc.passes import Partition, PassContext, Place
from snncc.reports.energy import traffic
from snncc.reports.resources import lower_bound
from snncc.target import Target, load_target, target_variant

META = {keys.QUANTIZED: True, keys.DT: 1.0, keys.INPUT: {"kind": "spikes", "scale": 1.0, "max_value": 1}}
WEIGHT_SCALE = 1270  # uniform(-0.1, 0.1) -> 8-bit mantissas
STEP_S = 1e-3  # rates in Hz -> spikes per step
WHAT_IF_GROUPS = 8


def nengo_loihi_network(seed: int = 1, n_ensembles: int = 256, n_connections: int = 512, low: int = 64,
                        high: int = 256) -> Graph:
    """The allocator-test network as a quantized snncc graph (see the module docstring)."""
    rng = np.random.RandomState(seed)
    sizes = rng.randint(low, high, size=n_ensembles)
    pairs = rng.randint(0, n_ensembles, size=(n_connections, 2))
    weights: dict[tuple[int, int], np.ndarray] = {}
    for i, j in pairs:
        m = np.rint(rng.uniform(-0.1, 0.1, size=(sizes[j], sizes[i])) * WEIGHT_SCALE).astype(np.int8)
        weights[(i, j)] = m if (i, j) not in weights else np.clip(weights[(i, j)] + m, -127, 127).astype(np.int8)
    rates = [rng.uniform(1, 100, size=1) * rng.uniform(0.9, 1, size=n) * STEP_S for n in sizes]
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([1])})}
    edges = []
    for e, n in enumerate(sizes):
        nodes[f"in{e}"] = QDense(weight=np.ones((n, 1), np.int64))
        nodes[f"ens{e}"] = QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n),
                                metadata={keys.SPIKE_RATES: rates[e].tolist()})
        edges += [("input", f"in{e}"), (f"in{e}", f"ens{e}")]
    for (i, j), w in weights.items():
        name = f"c{i}_{j}"
        nodes[name] = QDense(weight=w, metadata={keys.RECURRENT: True} if i >= j else {})
        edges += [(f"ens{i}", name), (name, f"ens{j}")]
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((f"ens{n_ensembles - 1}", "output"))
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


@dataclass
class Row:
    mapper: str
    cores: int
    bound: int
    chips: int
    inter_chip: float
    mean_hops: float
    partition_s: float
    place_s: float


def rates_of(graph: Graph) -> dict[str, np.ndarray]:
    return {name: np.asarray(node.metadata[keys.SPIKE_RATES]) for name, node in graph.nodes.items()
            if isinstance(node, IntegerNeuron)}


def metis_chips(graph: Graph, target: Target) -> Graph:
    """nengo-loihi's ``PartitionInterchip``: METIS (pymetis, default balance, seeded) cuts the core graph into
    ``system.chips`` parts, one chip each (an error when a part exceeds a chip); a chip's cores in network order."""
    import pymetis  # the baseline's own library (requirements/test.txt), not snncc's

    g = graph.copy()
    mapping = Mapping.of(g)
    w = core_traffic(g, mapping)
    per_chip, k = int(target.value("system", "cores_per_chip")), int(target.value("system", "chips"))
    _, parts = pymetis.part_graph(k, adjacency=pymetis.CSRAdjacency(w.indptr, w.indices),
                                  eweights=integer_weights(w.data), options=pymetis.Options(seed=0))
    chip = np.asarray(parts, np.int64)
    if np.bincount(chip).max() > per_chip:
        raise ValueError(f"METIS put {np.bincount(chip).max()} cores on one chip of {per_chip}")
    core = np.zeros_like(chip)
    for c in range(k):
        core[chip == c] = np.arange(int((chip == c).sum()))
    for name, cores in cores_of(mapping, chip, core, chip_cells(target)).items():
        mapping.layers[name].cores = cores
    mapping.store(g)
    return g


def measure(graph: Graph, target: Target, mapper: str, share: bool, placer: str) -> tuple[Row, Graph]:
    """Partition (with or without core sharing) and place ``graph`` (``placer`` 'metis': :func:`metis_chips`);
    the table row."""
    ctx = PassContext(target=target)
    start = time.perf_counter()
    g = Partition(share_cores=share).run(graph, ctx)
    middle = time.perf_counter()
    g = metis_chips(g, target) if placer == "metis" else Place(algorithm=placer).run(g, ctx)
    end = time.perf_counter()
    Place().ensures(g, ctx)
    mapping = Mapping.of(g)
    tr = traffic(g, rates_of(g), mapping)
    total = sum(t["messages"] for t in tr.values())  # traffic counts integer spikes: rates scaled below
    chips = len({c.chip for m in mapping.layers.values() for c in m.cores})
    between_cores = sum(t["messages_between_cores"] for t in tr.values())
    hops = sum(t["hops"] for t in tr.values())
    return Row(mapper, mapping.cores_used, cores_bound(g, target), chips,
               sum(t["messages_between_chips"] for t in tr.values()) / max(total, 1),
               hops / max(between_cores, 1), middle - start, end - middle), g


def cores_bound(graph: Graph, target: Target) -> int:
    """The resource report's cores lower bound (every limit, and neuron groups)."""
    lim = target.figures["core_limits"]
    limits = {k: lim[k].value for k in ("neurons", "memory", "input_axons", "output_axons")}
    by_limit = lower_bound(graph, target, limits)
    layers = sum(isinstance(n, IntegerNeuron) for n in graph.nodes.values())
    return max(1, *by_limit.values(), math.ceil(layers / int(lim["neuron_groups"].value)))


def counted(graph: Graph, scale: float) -> Graph:
    """``graph`` with each layer's rates scaled to integer spike counts (the energy report counts integers)."""
    g = graph.copy()
    for node in g.nodes.values():
        if isinstance(node, IntegerNeuron):
            node.metadata[keys.SPIKE_RATES] = np.rint(np.asarray(node.metadata[keys.SPIKE_RATES]) * scale).tolist()
    return g


MAPPERS = (("serpentine", True, "serpentine"), ("greedy", True, "greedy"), ("metis", False, "metis"),
           ("traffic 1/core", False, "traffic"), ("snncc", True, "traffic"))


def print_table(rows: list[Row]) -> None:
    print(f"{'mapper':<15} {'cores':>6} {'bound':>6} {'cores/bound':>11} {'chips':>5} {'inter-chip':>10} "
          f"{'mean hops':>9} {'partition s':>11} {'place s':>7}")
    for r in rows:
        print(f"{r.mapper:<15} {r.cores:>6} {r.bound:>6} {r.cores / r.bound:>11.2f} {r.chips:>5} "
              f"{100 * r.inter_chip:>9.1f}% {r.mean_hops:>9.2f} {r.partition_s:>11.2f} {r.place_s:>7.2f}")


def allocator_benchmark(target: str = "loihi", chips: int = 3, groups: int | None = None) -> list[Row]:
    """The four mappers on the allocator-test network; ``groups`` overrides the target's neuron groups per core."""
    overrides = {"system.chips": chips, **({"core_limits.neuron_groups": groups} if groups else {})}
    tgt = load_target(target_variant(target, overrides, "the allocator test's chips (and groups: what if)"))
    graph = counted(nengo_loihi_network(), 1e4)  # spikes per 10 s, integers: shares as from the rates
    return [measure(graph, tgt, name, share, placer)[0] for name, share, placer in MAPPERS]


def conv_ensembles(seed: int = 1, n_layers: int = 64, fan_in: int = 2, shape: tuple[int, int, int] = (16, 32, 32),
                   kernel: int = 3) -> Graph:
    """The random-ensemble structure at scale with sane synapse memory: ``n_layers`` QLIF layers of one (C, H, W)
    map, ``fan_in * n_layers`` random connections, each a ``kernel`` x ``kernel`` convolution (C x C x k x k
    weights, not a dense matrix), rates as in the allocator test; every layer also reads the input through a 1x1
    convolution."""
    rng = np.random.RandomState(seed)
    c, h, w = shape
    n = c * h * w
    pairs = rng.randint(0, n_layers, size=(fan_in * n_layers, 2))
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([1, h, w])})}
    edges = []
    for e in range(n_layers):
        nodes[f"in{e}"] = QConv(weight=np.ones((c, 1, 1, 1), np.int64), input_shape=(1, h, w))
        rates = rng.uniform(1, 100, size=1) * rng.uniform(0.9, 1, size=n) * STEP_S
        nodes[f"ens{e}"] = QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n),
                                metadata={keys.SPIKE_RATES: rates.tolist()})
        edges += [("input", f"in{e}"), (f"in{e}", f"ens{e}")]
    for i, j in {(int(i), int(j)) for i, j in pairs}:
        name = f"c{i}_{j}"
        weight = np.rint(rng.uniform(-0.1, 0.1, size=(c, c, kernel, kernel)) * WEIGHT_SCALE).astype(np.int64)
        nodes[name] = QConv(weight=weight, input_shape=shape, padding=kernel // 2,
                            metadata={keys.RECURRENT: True} if i >= j else {})
        edges += [(f"ens{i}", name), (name, f"ens{j}")]
    nodes["output"] = nir.Output(output_type={"output": np.array([n])})
    edges.append((f"ens{n_layers - 1}", "output"))
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


def run_scaled(build: Callable[[], Graph], tgt: Target, what: str) -> list[Row]:
    """Build a large network (timed), print its size, and the snncc-packing mappers' rows with the peak memory."""
    start = time.perf_counter()
    graph = counted(build(), 1e3)
    seconds = time.perf_counter() - start
    n = sum(len(np.asarray(node.metadata[keys.SPIKE_RATES])) for node in graph.nodes.values()
            if isinstance(node, IntegerNeuron))
    weights = sum(node.weight.size for node in graph.nodes.values() if isinstance(node, (QConv, QDense)))
    print(f"{n:,} neurons in {what}, {weights:,} stored weights, target {tgt.name}; built in {seconds:.1f} s")
    rows = [measure(graph, tgt, name, share, placer)[0] for name, share, placer in MAPPERS if share]
    print_table(rows)
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return rows


def million_benchmark(n_layers: int, fan_in: int, target: str = "loihi2-kapoho-point") -> list[Row]:
    """~1 M neurons in conv-connected layers on the 8-chip board."""
    return run_scaled(lambda: conv_ensembles(n_layers=n_layers, fan_in=fan_in), load_target(target),
                      f"{n_layers} layers")


def million_dense_benchmark(n_ensembles: int, chips: int, target: str = "loihi2-kapoho-point") -> list[Row]:
    """The allocator test's own structure (dense int8 connections between random ensembles of 64-256 neurons, one
    connection per ensemble) scaled to ``n_ensembles``; the board's chips raised to ``chips`` (about 5,300 cores
    for a million neurons, more than one 8-chip board)."""
    tgt = load_target(target_variant(target, {"system.chips": chips}, "a million dense neurons need more chips"))
    return run_scaled(lambda: nengo_loihi_network(n_ensembles=n_ensembles, n_connections=n_ensembles), tgt,
                      f"{n_ensembles} dense ensembles")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--million", action="store_true", help="the ~1 M neuron multi-chip scenario instead")
    ap.add_argument("--layers", type=int, default=64, help="layers of 16x32x32 neurons of the --million scenario")
    ap.add_argument("--fan-in", type=int, default=2, help="connections per layer of the --million scenario")
    ap.add_argument("--dense", action="store_true",
                    help="with --million: dense connections between random ensembles instead of convolutions")
    ap.add_argument("--ensembles", type=int, default=6250, help="ensembles of the --million --dense scenario")
    ap.add_argument("--chips", type=int, default=64, help="chips of the --million --dense scenario's board")
    args = ap.parse_args(argv)
    if args.million and args.dense:
        million_dense_benchmark(args.ensembles, args.chips)
    elif args.million:
        million_benchmark(args.layers, args.fan_in)
    else:
        print("nengo-loihi allocator test: 256 ensembles, 512 connections, 3 chips of loihi (1 group per core)")
        print_table(allocator_benchmark())
        print(f"\nthe same, what if a loihi core held {WHAT_IF_GROUPS} groups (loihi2's figure): packing at work")
        print_table(allocator_benchmark(groups=WHAT_IF_GROUPS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
