"""Mapping convolutional layers onto cores: tiles of output channels x rows x columns, receptive-field input axons,
synaptic memory with weight sharing. Every per-core figure is recomputed here from the convolution's dense
(out, in) matrices (``fan_in_mask``, ``conv_matrix``), which the library never builds."""

import copy
import math

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snncc.conv
from snncc.conv import conv_matrix, fan_in_mask
from snncc.errors import ResourceError, TargetError
from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QConv, QDense
from snncc.mapping import Mapping
from snncc.passes import Partition, PassContext, PassManager, Place
from snncc.reports import resource_report
from snncc.target import load_target, parse_target

LOIHI2 = load_target("loihi2")
META = {"quantized": True, "dt": 1.0, "input": {"kind": "spikes", "scale": 1.0, "max_value": 1}}


# ---- building graphs and targets -------------------------------------------------------------------------------
def lif(n: int) -> QLIF:
    return QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n))


def conv(rng: np.random.Generator, in_shape: tuple[int, int, int], c_out: int, k: int, stride: int = 1,
         pad: int = 0, dil: int = 1, groups: int = 1) -> QConv:
    w = rng.integers(-8, 9, (c_out, in_shape[0] // groups, k, k))
    return QConv(weight=w, input_shape=in_shape, stride=stride, padding=pad, dilation=dil, groups=groups)


def conv_net(in_shape=(3, 12, 12), c1=8, c2=4, k=3, stride=1, pad=1, dil=1, groups=1, stride2=2, n_out=5,
             seed=0) -> Graph:
    """input -> QConv -> QLIF -> QConv (``stride2``) -> QLIF -> QDense -> QLIF -> output."""
    rng = np.random.default_rng(seed)
    conv1 = conv(rng, in_shape, c1, k, stride, pad, dil)
    conv2 = conv(rng, conv1.geometry.out_shape, c2, k, stride2, pad, dil, groups)
    n1, n2 = conv1.geometry.out_size, conv2.geometry.out_size
    nodes = {"input": nir.Input(input_type={"input": np.array([int(np.prod(in_shape))])}), "conv1": conv1,
             "lif1": lif(n1), "conv2": conv2, "lif2": lif(n2), "fc": QDense(weight=rng.integers(-8, 9, (n_out, n2))),
             "lif3": lif(n_out), "output": nir.Output(output_type={"output": np.array([n_out])})}
    edges = [("input", "conv1"), ("conv1", "lif1"), ("lif1", "conv2"), ("conv2", "lif2"), ("lif2", "fc"),
             ("fc", "lif3"), ("lif3", "output")]
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


def target_with(base=LOIHI2, sharing: bool | None = None, slots: int | None = None, **limits: int):
    """A copy of ``base`` with other core limits, weight sharing and population axon slots (``slots``; 0: every
    axon discrete), all staying honest about being made up."""
    d = copy.deepcopy(base.to_dict())
    data = {"schema_version": 1, "name": "test", **{s: {k: dict(f) for k, f in sec.items()}
                                                    for s, sec in d["figures"].items()},
            "primitives": {k: {"kind": p["kind"], "lava": p["lava"]} for k, p in d["primitives"].items()}}
    data["system"]["chips"]["value"] = 64
    for key, value in limits.items():
        data["core_limits"][key]["value"] = value
    if sharing is not None:
        data["memory_model"]["conv_weight_sharing"]["value"] = sharing
    if slots is not None:
        data["memory_model"]["population_axon_slots"]["value"] = slots
    return parse_target(data, "test.yaml")


def mapped(g: Graph, target=LOIHI2) -> Graph:
    return PassManager([Partition(), Place()]).run(g, PassContext(target=target))


# ---- the per-core figures, recomputed from dense matrices -------------------------------------------------------
class Dense:
    """Each synapse's (out, in) connection mask and weight-id matrix, built once per check."""

    def __init__(self, g: Graph):
        self.mask, self.ids = {}, {}
        for name, node in g.nodes.items():
            if isinstance(node, QConv):
                geom = node.geometry
                self.mask[name] = fan_in_mask(geom)
                ids = np.arange(1, int(np.prod(geom.weight_shape)) + 1).reshape(geom.weight_shape)
                self.ids[name] = conv_matrix(ids, geom)  # each connection's 1-based kernel-weight id (0: none)
            elif isinstance(node, QDense):
                self.mask[name] = np.ones(node.weight.shape, bool)


def independent_use(g: Graph, dense: Dense, target, layer: str, idx: np.ndarray) -> dict[str, int]:
    """Neurons, input axons, stored synapses and memory of a core holding neurons ``idx`` of ``layer``."""
    sharing = target.value("memory_model", "conv_weight_sharing")
    maps = [g.nodes[s].geometry.out_shape for s in g.predecessors(layer) if isinstance(g.nodes[s], QConv)]
    layer_map = max(maps, key=lambda m: m[1] * m[2]) if maps else None  # a per-neuron (n, 1, 1) one only if alone
    axons = synapses = kernel = 0
    for s in g.predecessors(layer):
        rows = dense.mask[s][idx]
        read = np.flatnonzero(rows.any(axis=0))
        if pop_slots(target) and spatial(g.nodes[s]):  # one input axon per pixel, channels packed
            read = np.unique(read % int(np.prod(g.nodes[s].geometry.in_shape[1:])))
        axons += len(read)
        if s in dense.ids and sharing:
            ids = dense.ids[s][idx]
            stored = len(np.unique(ids[ids > 0]))
            synapses += stored
            kernel += stored if g.nodes[s].geometry.out_shape == layer_map else 0  # a per-neuron one: synapses
        else:
            synapses += int(rows.sum())  # dense: every (out, in) pair; conv: every connection inside the map
    mm = target.figures["memory_model"]
    bits = (synapses - kernel) * mm["synapse_bits"].value + kernel * mm["kernel_weight_bits"].value
    memory = (math.ceil(bits / 8) + len(idx) * mm["neuron_state_bytes"].value
              + axons * mm["input_axon_bytes"].value)
    return {"neurons": len(idx), "input_axons": axons, "synapses": synapses, "memory": memory}


def pop_slots(target) -> int:
    fig = target.figures["memory_model"].get("population_axon_slots")
    return int(fig.value) if fig is not None else 0


def spatial(node) -> bool:
    """A convolution over a real map (not a per-neuron (n, 1, 1) relay): read through population axons."""
    return isinstance(node, QConv) and node.geometry.out_shape[1:] != (1, 1)


def destinations(g: Graph, dense: Dense, layer: str, slots: int) -> list[tuple[np.ndarray, int]]:
    """Per (consumer core, axon kind) of ``layer``'s spikes: which of its neurons the core reads, and the pixels per
    channel of a population read (0: discrete). Consumer blocks on one core reading with one kind count once."""
    reached: dict[tuple[int, int], np.ndarray] = {}
    mapping = Mapping.of(g)
    for c in {c for s in g.successors(layer) for c in g.successors(s) if c in layers(g)}:
        syns = [s for s in g.successors(layer) if c in g.successors(s)]
        pixels = 0
        if slots and all(spatial(g.nodes[s]) for s in syns):
            (pixels,) = {int(np.prod(g.nodes[s].geometry.in_shape[1:])) for s in syns}
        for block, slot in zip(mapping.layers[c].blocks, mapping.layers[c].slots, strict=True):
            reads = np.any([dense.mask[s][block.index()].any(axis=0) for s in syns], axis=0)
            reached[slot, pixels] = reached.get((slot, pixels), np.zeros_like(reads)) | reads
    return [(reads, pixels) for (_, pixels), reads in reached.items()]


def output_entries(dests: list[tuple[np.ndarray, int]], idx: np.ndarray, slots: int) -> int:
    """One entry per neuron read through a discrete axon, ``slots`` per pixel read through population axons."""
    total = 0
    for reads, pixels in dests:
        sent = idx[reads[idx]]
        total += len(sent) if not pixels else slots * len(np.unique(sent % pixels))
    return total


def layers(g: Graph) -> list[str]:
    return [n for n, v in g.nodes.items() if isinstance(v, QLIF)]


def tile_index(shape: tuple[int, int, int], tile: dict) -> np.ndarray:
    """Flat CHW indices of a tile, straight from its definition."""
    (c0, c1), (r0, r1), (x0, x1) = tile["channels"], tile["rows"], tile["cols"]
    grid = np.arange(int(np.prod(shape))).reshape(shape)
    return np.sort(grid[c0:c1, r0:r1, x0:x1].ravel())


def check_mapping(g: Graph, target) -> dict:
    """Every core within every limit (its groups' uses summed, at most ``neuron_groups`` of them, never two blocks
    of one layer), every layer covered exactly once, and the report agreeing with both."""
    lim = {k: target.value("core_limits", k) for k in ("neurons", "memory", "input_axons", "output_axons")}
    report = resource_report(g, target)
    dense = Dense(g)
    mapping = Mapping.of(g)
    per_core: dict[tuple[int, int], list[tuple[str, dict]]] = {}
    for name in layers(g):
        node = g.nodes[name]
        dest = destinations(g, dense, name, pop_slots(target))
        blocks = mapping.layers[name].blocks
        entries = iter([b for b in report["blocks"] if b["layer"] == name])
        covered = np.sort(np.concatenate([b.index() for b in blocks]))
        np.testing.assert_array_equal(covered, np.arange(len(node.bias_mant)))  # exactly once
        for i, (block, core) in enumerate(zip(blocks, mapping.layers[name].cores, strict=True)):
            idx = block.index()
            if block.tile is not None:
                maps = [g.nodes[s].geometry.out_shape for s in g.predecessors(name) if isinstance(g.nodes[s], QConv)]
                shape = max(maps, key=lambda m: m[1] * m[2])  # the spatial map, not a per-neuron (n, 1, 1) one
                np.testing.assert_array_equal(idx, tile_index(shape, block.tile.to_data()))
            use = independent_use(g, dense, target, name, idx)
            use["output_axons"] = output_entries(dest, idx, pop_slots(target))
            entry = next(entries)
            assert entry["layer"] == name and entry["synapses_stored"] == use["synapses"], f"{name} block {i}"
            assert entry["use"] == {k: use[k] for k in lim}, f"{name} block {i}"
            per_core.setdefault((core.chip, core.core), []).append((name, use))
    groups = target.value("core_limits", "neuron_groups")
    cores = {(c["chip"], c["core"]): c for c in report["cores"]}
    assert len(cores) == len(per_core) == report["cores_used"] == len(set(mapping.slot_members()))
    for where, members in per_core.items():
        names = [n for n, _ in members]
        assert len(names) == len(set(names)) and len(names) <= groups, names
        total = {k: sum(u[k] for _, u in members) for k in lim}
        for k, v in lim.items():
            assert total[k] <= v, f"core of {names}: {k} {total[k]} > {v}"
        assert cores[where]["use"] == total and cores[where]["layers"] == names
    return report


# ---- tests -----------------------------------------------------------------------------------------------------
def test_whole_channel_tiles_when_they_fit():
    g = mapped(conv_net(), target_with(neurons=300))
    blocks = Mapping.of(g).layers["lif1"].blocks
    tiles = [b.tile.to_data() for b in blocks]  # 8 x 12 x 12 = 1152 neurons: 4 cores of 2 whole channels
    assert [t["channels"] for t in tiles] == [[0, 2], [2, 4], [4, 6], [6, 8]]
    assert all(t["rows"] == [0, 12] and t["cols"] == [0, 12] for t in tiles)
    assert [b.ranges for b in blocks] == [((0, 288),), ((288, 576),), ((576, 864),), ((864, 1152),)]  # contiguous
    dense_fed = Mapping.of(g).layers["lif3"].blocks
    assert dense_fed and all(b.tile is None for b in dense_fed)  # dense-fed
    check_mapping(g, target_with(neurons=300))


def test_rows_then_columns_when_the_receptive_field_is_too_wide():
    target = target_with(input_axons=3 * 6 * 14, slots=0)  # conv1 reads 3 channels: 12-wide rows + halo fit 4 rows
    g = mapped(conv_net(), target)
    tiles = [b.tile for b in Mapping.of(g).layers["lif1"].blocks]
    assert all(t.x0 == 0 and t.x1 == 12 for t in tiles) and {t.r1 - t.r0 for t in tiles} == {4}
    target = target_with(input_axons=3 * 6 * 6, slots=0)  # now the columns must be cut too
    g = mapped(conv_net(c2=2), target)
    tiles = [b.tile for b in Mapping.of(g).layers["lif1"].blocks]
    assert any(t.x1 - t.x0 < 12 for t in tiles)
    assert any(len(b.ranges) > 1 for b in Mapping.of(g).layers["lif1"].blocks)
    check_mapping(g, target)


@pytest.mark.parametrize("geometry", [
    {}, {"stride": 2, "pad": 1}, {"k": 1, "pad": 0, "stride": 2}, {"dil": 2, "pad": 2}, {"groups": 2},
    {"groups": 8, "c2": 8, "stride2": 3}, {"k": 5, "pad": 0, "c1": 4, "in_shape": (2, 15, 13)},
    {"stride2": 1, "c2": 1},
])
@pytest.mark.parametrize("sharing", [True, False])
def test_every_block_respects_every_limit(geometry, sharing):
    target = target_with(sharing=sharing, neurons=90, input_axons=150, output_axons=400, memory=6000)
    g = mapped(conv_net(**geometry), target)
    report = check_mapping(g, target)
    assert report["cores_used"] >= report["cores_lower_bound"]
    assert report["layers"]["lif1"]["cores"] > 1


@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 4), c1=st.integers(1, 6), h=st.integers(3, 11), w=st.integers(3, 11),
       k=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2),
       neurons=st.integers(4, 200), axons=st.integers(40, 400), sharing=st.booleans())
def test_random_geometries_fit_or_name_the_layer(c_in, c1, h, w, k, stride, pad, dil, neurons, axons, sharing):
    target = target_with(sharing=sharing, neurons=neurons, input_axons=axons, memory=20000)
    try:
        g0 = conv_net((c_in, h, w), c1=c1, c2=2, k=k, stride=stride, pad=pad, dil=dil, stride2=stride, n_out=2)
    except ValueError:
        return  # the kernel does not fit the input
    try:
        g = mapped(g0, target)
    except ResourceError as e:
        assert e.layer in layers(g0) or "cores but the target has" in str(e)
        return
    check_mapping(g, target)


def test_weight_sharing_stores_less():
    g = conv_net(in_shape=(4, 16, 16), c1=8, c2=8)
    shared = resource_report(mapped(g, target_with(sharing=True, neurons=512)), target_with(sharing=True))
    unshared = resource_report(mapped(g, target_with(sharing=False, neurons=512)), target_with(sharing=False))
    for name in ("lif1", "lif2"):
        s, u = shared["layers"][name], unshared["layers"][name]
        assert s["weight_sharing"] and not u["weight_sharing"]
        assert s["memory_bytes"] < s["memory_bytes_unshared"] == u["memory_bytes"]
        assert s["synapses_stored"] < u["synapses_stored"] == u["synapses_stored_unshared"]
    # per connection, every (output, tap) inside the map is stored once
    valid = int(fan_in_mask(g.nodes["conv2"].geometry).sum())
    assert unshared["layers"]["lif2"]["synapses_stored"] == valid
    assert shared["cores_lower_bound_by_limit"]["memory"] <= unshared["cores_lower_bound_by_limit"]["memory"]


def test_memory_binds_without_sharing_and_more_cores_follow():
    g = conv_net(in_shape=(16, 16, 16), c1=16, c2=16)  # lif1: 4096 neurons x 144 connections x 20 bits = 1.47 MB
    reports = {s: resource_report(mapped(g, target_with(sharing=s)), target_with(sharing=s)) for s in (True, False)}
    shared, unshared = reports[True]["layers"]["lif1"], reports[False]["layers"]["lif1"]
    assert shared["cores"] == 1 and unshared["cores"] == math.ceil(4096 * 144 * 20 / 8 / 96000)  # 16
    assert unshared["memory_bytes"] > LOIHI2.value("core_limits", "memory") >= shared["memory_bytes"]


def test_too_large_conv_layer_names_it():
    big = conv_net(in_shape=(512, 6, 6), c1=4, c2=4)  # one neuron of conv1 reads 512 x 3 x 3 = 4608 inputs
    with pytest.raises(ResourceError, match=r"layer 'lif1'.*4608 inputs.*4096 input axons.*core_limits\.input_axons"):
        mapped(big, target_with(input_axons=4096, slots=0))
    fits = target_with(input_axons=4096)  # through population axons the 6 x 6 map is 36 input axons, channels packed
    assert resource_report(mapped(big, fits), fits)["layers"]["lif1"]["input_axons_max"] == 36
    with pytest.raises(ResourceError, match=r"layer 'lif1'.*bytes.*core_limits\.memory"):
        mapped(conv_net(in_shape=(64, 8, 8), k=5, pad=2), target_with(memory=1500))  # 1600 weights: 1.6 KB
    with pytest.raises(ResourceError, match=r"cores but the target has 2.*layer 'lif1'"):
        t = target_with(neurons=64)
        d = copy.deepcopy(t.to_dict())
        data = {"schema_version": 1, "name": "t", **{s: {k: dict(f) for k, f in sec.items()}
                                                     for s, sec in d["figures"].items()},
                "primitives": {k: {"kind": p["kind"], "lava": p["lava"]} for k, p in d["primitives"].items()}}
        data["system"]["chips"]["value"], data["system"]["cores_per_chip"]["value"] = 1, 2
        data["system"]["mesh_shape"]["value"] = [1, 2]
        mapped(conv_net(), parse_target(data, "t.yaml"))


@pytest.mark.parametrize(("slots", "entries"), [(0, 3584), (1, 56), (2, 112)])
def test_population_axons_one_entry_per_pixel(slots, entries):
    """Intel's compiler output: a Conv(8, 7, 64) tile of 3,584 neurons sending to one core uses 56 output entries,
    one per pixel with the 64 channels packed (Loihi 1's pop32 axons take two slots each; discrete axons one per
    neuron)."""
    target = target_with(slots=slots)
    g = mapped(conv_net(in_shape=(3, 8, 7), c1=64, c2=4, stride2=1), target)
    report = check_mapping(g, target)
    (lif1,) = [b for b in report["blocks"] if b["layer"] == "lif1"]
    assert lif1["use"]["neurons"] == 3584 and lif1["use"]["output_axons"] == entries
    assert report["cores_lower_bound_by_limit"]["output_axons"] == 1


def test_lateral_conv_counts_own_cores():
    g = conv_net(in_shape=(2, 10, 10), c1=4)
    lat = conv(np.random.default_rng(1), (4, 10, 10), 4, 3, pad=1)
    lat.metadata["snncc.recurrent"] = True
    g.nodes["lat"] = lat
    g.edges += [("lif1", "lat"), ("lat", "lif1")]
    target = target_with(neurons=100, output_axons=300)
    out = mapped(g, target)
    check_mapping(out, target)


def test_per_neuron_convolution_beside_a_spatial_one():
    """A layer fed by a 3x3 convolution and by a depthwise 1x1 identity over (n, 1, 1) (balance-latency's relay):
    tiles follow the spatial map; the identity adds exactly the tile's own neurons as inputs."""
    g = conv_net(in_shape=(2, 8, 8), c1=4, c2=4, stride2=1)
    n = 4 * 8 * 8
    g.nodes["ident"] = QConv(weight=np.ones((n, 1, 1, 1)), input_shape=(n, 1, 1), groups=n)
    g.edges += [("lif1", "ident"), ("ident", "lif2")]
    target = target_with(neurons=64, input_axons=300)
    out = mapped(g, target)
    report = check_mapping(out, target)
    assert report["layers"]["lif2"]["map"] == [4, 8, 8] and report["layers"]["lif2"]["cores"] > 1


def test_resnet18_layer_partitions_without_dense_matrices(monkeypatch):
    def refuse(*_):
        raise AssertionError("the library must not build a dense (out, in) matrix")

    monkeypatch.setattr(snncc.conv, "conv_matrix", refuse)
    monkeypatch.setattr(snncc.conv, "fan_in_mask", refuse)
    rng = np.random.default_rng(0)
    c1 = conv(rng, (64, 32, 32), 64, 3, pad=1)
    c2 = conv(rng, (64, 32, 32), 64, 3, pad=1)
    n = 64 * 32 * 32
    g = Graph(nodes={"input": nir.Input(input_type={"input": np.array([n])}), "conv1": c1, "lif1": lif(n),
                     "conv2": c2, "lif2": lif(n), "output": nir.Output(output_type={"output": np.array([n])})},
              edges=[("input", "conv1"), ("conv1", "lif1"), ("lif1", "conv2"), ("conv2", "lif2"), ("lif2", "output")],
              metadata=dict(META))
    out = mapped(g)  # speed is the benchmark's business (benchmarks/); here: no dense matrix is ever built
    report = resource_report(out, LOIHI2)
    lay = report["layers"]["lif1"]
    # 3x3 kernels over 64 channels: a tile's (rows + 2) x (cols + 2) x 64 inputs must fit the core's input axons
    axons_in, axons_out = (LOIHI2.value("core_limits", k) for k in ("input_axons", "output_axons"))
    assert lay["input_axons_max"] <= axons_in and lay["cores"] <= 36
    assert lay["memory_bytes"] < lay["memory_bytes_unshared"]
    assert report["cores_lower_bound"] <= report["cores_used"]
    assert all(c["use"]["output_axons"] <= axons_out for c in report["cores"])


def test_targets_parse_the_sharing_figure():
    for name in ("loihi", "loihi2"):
        fig = load_target(name).figures["memory_model"]["conv_weight_sharing"]
        assert isinstance(fig.value, bool) and fig.source
    d = copy.deepcopy(LOIHI2.to_dict())
    data = {"schema_version": 1, "name": "old", **{s: {k: dict(f) for k, f in sec.items()}
                                                   for s, sec in d["figures"].items()},
            "primitives": {k: {"kind": p["kind"], "lava": p["lava"]} for k, p in d["primitives"].items()}}
    del data["memory_model"]["conv_weight_sharing"]
    old = parse_target(data, "old.yaml")  # a target file from before the figure still loads: per connection
    fig = old.figures["memory_model"]["conv_weight_sharing"]
    assert fig.value is False and fig.confirmed is False and "default" in fig.source
    data["memory_model"]["conv_weight_sharing"] = {"value": 1, "unit": "flag", "source": "x", "confirmed": False}
    with pytest.raises(TargetError, match="conv_weight_sharing.value' must be true or false"):
        parse_target(data, "bad.yaml")
