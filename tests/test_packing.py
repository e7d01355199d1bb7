"""Core sharing: blocks of different layers packed onto one core, up to the target's neuron groups.

Every mapping is checked by :func:`tests.test_conv_mapping.check_mapping`, which recomputes each core's use from
dense matrices (the sum over its groups, output axons counting consumer blocks that share a core once) and asserts
every limit, at most ``neuron_groups`` groups and never two blocks of one layer on a core.
"""

from __future__ import annotations

import math

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snncc
from snncc.errors import ResourceError
from snncc.ir import Graph, QDense
from snncc.mapping import Mapping
from snncc.passes import Partition, PassContext, PassManager, Place
from snncc.reports import resource_report
from tests.test_conv_mapping import META, check_mapping, conv_net, lif, mapped, target_with


def dense_chain(sizes: list[int], seed: int = 0, skip: bool = False) -> Graph:
    """input -> (QDense -> QLIF) per size; with ``skip`` the first layer also feeds the last."""
    rng = np.random.default_rng(seed)
    nodes = {"input": nir.Input(input_type={"input": np.array([sizes[0]])})}
    edges, prev = [], "input"
    for i, n in enumerate(sizes[1:]):
        nodes[f"fc{i}"] = QDense(weight=rng.integers(-8, 9, (n, sizes[i])))
        nodes[f"lif{i}"] = lif(n)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    if skip and len(sizes) > 3:
        last = len(sizes) - 2
        nodes["skip"] = QDense(weight=rng.integers(-8, 9, (sizes[-1], sizes[1])))
        edges += [("lif0", "skip"), ("skip", f"lif{last}")]
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((prev, "output"))
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


def blocks_of(g: Graph) -> int:
    return sum(len(m.blocks) for m in Mapping.of(g).layers.values())


def test_small_layers_share_cores_up_to_the_neuron_groups() -> None:
    """20 layers of 10 neurons: 8 per core (the loihi2 figure), so 3 cores; each core's figures are its groups'."""
    target = target_with(neuron_groups=8)
    g = mapped(dense_chain([10] * 21), target)
    report = check_mapping(g, target)
    assert blocks_of(g) == 20 and report["cores_used"] == 3 == report["cores_lower_bound"]
    assert sorted((c["groups"] for c in report["cores"]), reverse=True) == [8, 8, 4]  # in any placement order
    assert report["cores_lower_bound_by_limit"]["neuron_groups"] == 3


def test_one_group_per_core_shares_nothing() -> None:
    target = target_with(neuron_groups=1)
    g = mapped(dense_chain([10] * 6), target)
    assert check_mapping(g, target)["cores_used"] == blocks_of(g) == 5


def test_output_axons_count_a_shared_destination_core_once() -> None:
    """lif0 feeds lif1 and, through the skip, lif2; with lif1 and lif2 on one core each neuron of lif0 needs one
    output axon, not two."""
    target = target_with(neuron_groups=8)
    g = mapped(dense_chain([6, 5, 4, 3], skip=True), target)
    report = check_mapping(g, target)
    assert report["cores_used"] == 1
    lif0 = next(b for b in report["blocks"] if b["layer"] == "lif0")
    assert lif0["use"]["output_axons"] == 5
    unshared = PassManager([Partition(share_cores=False), Place()]).run(dense_chain([6, 5, 4, 3], skip=True),
                                                                        PassContext(target=target))
    lif0 = next(b for b in resource_report(unshared, target)["blocks"] if b["layer"] == "lif0")
    assert lif0["use"]["output_axons"] == 2 * 5


def test_the_digits_mlp_fits_on_one_core() -> None:
    bundle = snncc.compile("examples/digits/model.pt", "loihi2")
    res = bundle.report["resources"]
    assert res["cores_used"] == 1 == res["cores_lower_bound"]
    assert res["cores"][0]["layers"] == ["lif_2", "lif_4"]


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=2, max_size=9), skip=st.booleans(),
       neurons=st.integers(8, 64), groups=st.integers(1, 8), axons=st.integers(40, 200), seed=st.integers(0, 99))
def test_random_dense_networks_pack_within_every_limit(sizes, skip, neurons, groups, axons, seed) -> None:
    target = target_with(neurons=neurons, neuron_groups=groups, input_axons=axons, output_axons=400)
    try:
        g = mapped(dense_chain(sizes, seed, skip), target)
    except ResourceError as exc:  # a fan-in above the input axons: named, not packed
        fan_in = sizes[:-1]
        if skip and len(sizes) > 3:
            fan_in[-1] += sizes[1]
        assert "input axons" in str(exc) and max(fan_in) > axons
        return
    report = check_mapping(g, target)
    layers = len(sizes) - 1
    assert report["cores_used"] <= blocks_of(g)
    assert report["cores_used"] >= math.ceil(layers / groups)


@pytest.mark.parametrize("groups", [1, 3, 8])
def test_conv_tiles_pack_within_every_limit(groups: int) -> None:
    target = target_with(neurons=300, neuron_groups=groups)
    g = mapped(conv_net(), target)
    report = check_mapping(g, target)
    assert max(c["groups"] for c in report["cores"]) <= groups
    if groups > 1:  # the dense output layer's 5 neurons join a partly filled tile core
        assert report["cores_used"] < blocks_of(g)


def test_a_mapping_with_slots_for_other_blocks_is_refused() -> None:
    from snncc.errors import GraphError
    from snncc.mapping import Block

    data = {"layers": {"l1": {"blocks": [Block.span(0, 3).to_data(), Block.span(3, 5).to_data()], "slots": [0]}}}
    with pytest.raises(GraphError, match="layer 'l1': the mapping gives 1 slots for 2 blocks"):
        Mapping.from_data(data)
    unshared = Mapping.from_data({"layers": {"l1": {"blocks": data["layers"]["l1"]["blocks"]}}})
    assert unshared.layers["l1"].slots == [0, 1]  # a mapping written before cores were shared


def relay_net(seed: int = 0) -> Graph:
    """input (64, 4, 4) -> 1x1 conv -> lif1 -> identity relay (balance-latency's kind: a depthwise 1x1 conv over
    an (n, 1, 1) map) -> 3x3 conv of 512 channels, whose 576-byte kernels per channel make lif2 bound by memory
    with part of its cores' neurons free."""
    from snncc.ir import QConv
    from tests.test_conv_mapping import conv

    rng = np.random.default_rng(seed)
    shape = (64, 4, 4)
    n = int(np.prod(shape))
    conv1, conv2 = conv(rng, shape, 64, 1), conv(rng, shape, 512, 3, pad=1)
    relay = QConv(weight=np.ones((n, 1, 1, 1), np.int64), input_shape=(n, 1, 1), groups=n)
    nodes = {"input": nir.Input(input_type={"input": np.array([n])}), "conv1": conv1, "lif1": lif(n),
             "id": relay, "relay": lif(n), "conv2": conv2, "lif2": lif(conv2.geometry.out_size),
             "output": nir.Output(output_type={"output": np.array([conv2.geometry.out_size])})}
    edges = [("input", "conv1"), ("conv1", "lif1"), ("lif1", "id"), ("id", "relay"), ("relay", "conv2"),
             ("conv2", "lif2"), ("lif2", "output")]
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


def test_relays_fill_the_neurons_memory_bound_cores_leave_free() -> None:
    from snncc.mapping.fill import fillable

    g = relay_net()
    assert fillable(g, "relay") and not fillable(g, "lif1") and not fillable(g, "lif2")
    target = target_with()
    mapped_g = mapped(g, target)
    report = check_mapping(mapped_g, target)
    assert report["layers"]["lif2"]["binding_limit"] == "memory"
    shared = [c for c in report["cores"] if "relay" in c["layers"] and "lif2" in c["layers"]]
    assert shared, "no relay block joined a memory-bound core"
    assert all("lif2" in c["layers"] for c in report["cores"] if "relay" in c["layers"])  # no core of its own
    lif1 = [b for b in report["blocks"] if b["layer"] == "lif1"]
    assert sum(b["use"]["output_axons"] for b in lif1) == 1024  # one entry per neuron towards the relay cores
    from snncc.mapping.packing import block_demands

    blocks = {name: m.blocks for name, m in Mapping.of(mapped_g).layers.items()}
    items, need = block_demands(mapped_g, target, {"lif1": blocks["lif1"]}, blocks)
    assert need[:, 3].sum() == 1024  # packing counts them too, whatever the relay's cut
    plain = check_mapping(mapped(g, target), target_with())  # deterministic
    assert plain["cores_used"] == report["cores_used"]
    unfilled = resource_report(PassManager([Partition(share_cores=False), Place()]).run(
        g, PassContext(target=target)), target)
    assert report["cores_used"] < unfilled["cores_used"]
