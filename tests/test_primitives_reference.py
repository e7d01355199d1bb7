"""The reference simulator on the seed-neuron primitives, against values worked out by hand.

QLIF floor (v_min) and initial voltage (v_init), the graded multi-level neuron (QMultiLevel) and the synapse it
feeds, the AR-LIF program (QARLIF), and the timing of recurrent synapses. Every expected number below was computed
by hand from the rules in snncc/fixedpoint.py (du = 4095 makes ``u = a << 6``; dv = 0 keeps ``v``).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from snncc.backends.reference import ReferenceSimulator
from snncc.backends.reference.trace import count_operations
from snncc.errors import GraphError
from snncc.families.arlif.nodes import QARLIF
from snncc.families.lif.nodes import QLIF
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.ir import Graph, QDense
from snncc.ir.keys import RECURRENT as RECURRENT_KEY


def chain(n_in: int, stages: list[tuple[QDense, object]], *, graded_input: bool = False,
          max_value: int = 1) -> Graph:
    """Input(n_in) -> dense0 -> layer0 -> dense1 -> layer1 ... -> Output."""
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges, prev = [], "input"
    for i, (dense, neuron) in enumerate(stages):
        nodes[f"dense{i}"], nodes[f"layer{i}"] = dense, neuron
        edges += [(prev, f"dense{i}"), (f"dense{i}", f"layer{i}")]
        prev = f"layer{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([neuron.in_shape[0]])})
    edges.append((prev, "output"))
    kind = {"kind": "graded", "max_value": max_value} if graded_input else {"kind": "spikes"}
    return Graph(nodes=nodes, edges=edges, metadata={"input": kind})


def add_recurrent(graph: Graph, name: str, src: str, dst: str, weight: np.ndarray, exp: int = 0) -> None:
    """A synapse flagged recurrent from ``src``'s output back into ``dst``."""
    graph.nodes[name] = QDense(weight=weight, weight_exp=exp, metadata={RECURRENT_KEY: True})
    graph.edges += [(src, name), (name, dst)]


def qlif(n: int, **kw: object) -> QLIF:
    params = {"du": 4095, "dv": 0, "vth": 10, "bias_mant": np.zeros(n), "bias_exp": np.zeros(n)}
    params.update(kw)
    return QLIF(**params)


# ---- QLIF: floor and initial voltage ---------------------------------------------------------------------------
def test_v_min_floors_before_the_spike_test() -> None:
    """Input 0 (weight -5) pulls v down, input 1 (weight 4) pushes it up; vth << 6 = 640."""
    x = np.array([[[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]])
    w = np.array([[-5, 4]])
    floored = ReferenceSimulator(chain(2, [(QDense(weight=w), qlif(1, v_min=-100))])).run(x, record_states=True)
    lay = floored.layers["layer0"]
    np.testing.assert_array_equal(lay.u[0, :, 0], [-320, -320, 256, 256, 256])
    np.testing.assert_array_equal(lay.v[0, :, 0], [-100, -100, 156, 412, 0])  # 668 > 640: spike, hard reset
    np.testing.assert_array_equal(lay.spikes[0, :, 0], [0, 0, 0, 0, 1])
    free = ReferenceSimulator(chain(2, [(QDense(weight=w), qlif(1))])).run(x, record_states=True)
    np.testing.assert_array_equal(free.layers["layer0"].v[0, :, 0], [-320, -640, -384, -128, 128])
    assert free.layers["layer0"].spikes.sum() == 0


def test_v_min_with_soft_reset() -> None:
    """Floor 100: it applies before the spike test and the soft reset after it, so v may end below the floor."""
    x = np.ones((1, 4, 1), np.int64)
    node = qlif(1, v_min=100, reset="subtract")
    res = ReferenceSimulator(chain(1, [(QDense(weight=np.array([[11]])), node)])).run(x, record_states=True)
    # u = 704 each step: v = 704 > 640 -> 64; 768 -> 128; 832 -> 192; 896 -> 256
    np.testing.assert_array_equal(res.layers["layer0"].v[0, :, 0], [64, 128, 192, 256])
    np.testing.assert_array_equal(res.layers["layer0"].spikes[0, :, 0], [1, 1, 1, 1])
    # u = 64 each step: the first update gives 64, lifted to the floor; then 164, 228, 292
    res = ReferenceSimulator(chain(1, [(QDense(weight=np.array([[1]])), node)])).run(x, record_states=True)
    np.testing.assert_array_equal(res.layers["layer0"].v[0, :, 0], [100, 164, 228, 292])


def test_v_init_starts_every_sample_and_every_window() -> None:
    """Layer 1 (two synapses deep) starts each sample at v_init = [500, -200] when its window opens."""
    bias = np.array([100, 100])
    stages = [(QDense(weight=np.zeros((1, 1))), qlif(1)),
              (QDense(weight=np.zeros((2, 1))), qlif(2, v_init=[500, -200], bias_mant=bias, reset="subtract"))]
    res = ReferenceSimulator(chain(1, stages)).run(np.zeros((2, 4, 1), np.int64), record_states=True)
    lay = res.layers["layer1"]
    assert lay.latency == 2
    for sample in range(2):
        np.testing.assert_array_equal(lay.v[sample, :, 0], [600, 60, 160, 260])  # 700 > 640: soft reset
        np.testing.assert_array_equal(lay.v[sample, :, 1], [-100, 0, 100, 200])
        np.testing.assert_array_equal(lay.spikes[sample, :, 0], [0, 1, 0, 0])


# ---- recurrent synapses -----------------------------------------------------------------------------------------
def test_recurrent_self_inhibition_arrives_one_step_late() -> None:
    """An always-on input (weight 20) and self-inhibition -30: the first delivery in the window is 0, then the
    previous step's spike arrives, so the neuron alternates (without the recurrence it fires every step)."""
    dv_full = {"dv": 4096}  # v = u each step
    for depth in (1, 2):
        stages = [(QDense(weight=np.array([[20]])), qlif(1, **dv_full)) for _ in range(depth)]
        g = chain(1, stages)
        last = f"layer{depth - 1}"
        add_recurrent(g, "lateral", last, last, np.array([[-30]]))
        assert g.synapse_depth()[last] == depth and g.synapse_depth()["lateral"] == depth
        x = np.ones((1, 6, 1), np.int64)
        res = ReferenceSimulator(g).run(x, record_states=True)
        lay = res.layers[last]
        if depth == 1:
            np.testing.assert_array_equal(lay.u[0, :, 0], [1280, -640, 1280, -640, 1280, -640])
            np.testing.assert_array_equal(lay.spikes[0, :, 0], [1, 0, 1, 0, 1, 0])
        else:  # the upstream layer fires every step, so the same pattern one layer deeper
            np.testing.assert_array_equal(lay.spikes[0, :, 0], [1, 0, 1, 0, 1, 0])


def test_recurrent_feedback_from_a_deeper_layer() -> None:
    """layer1 (depth 2) feeds back into layer0 (depth 1): layer0 at step t receives layer1's output of t - 2."""
    stages = [(QDense(weight=np.array([[20]])), qlif(1, dv=4096)),
              (QDense(weight=np.array([[20]])), qlif(1, dv=4096))]
    g = chain(1, stages)
    add_recurrent(g, "feedback", "layer1", "layer0", np.array([[-100]]))
    x = np.array([[[1], [0], [0], [0], [0], [0]]])
    res = ReferenceSimulator(g).run(x, record_states=True)
    # layer0 fires at t=0 (u = 1280); layer1 receives it at its t=0 and fires; layer0 gets -100 at t=2
    np.testing.assert_array_equal(res.layers["layer0"].u[0, :, 0], [1280, 0, -6400, 0, 0, 0])
    np.testing.assert_array_equal(res.layers["layer1"].spikes[0, :, 0], [1, 0, 0, 0, 0, 0])


def test_recurrent_synapse_needs_a_neuron_source() -> None:
    g = chain(1, [(QDense(weight=np.array([[1]])), qlif(1))])
    add_recurrent(g, "bad", "input", "layer0", np.array([[1]]))
    with pytest.raises(GraphError) as exc:
        ReferenceSimulator(g)
    assert exc.value.layer == "bad"


# ---- multi-level (graded) neuron --------------------------------------------------------------------------------
def multilevel(n: int, **kw: object) -> QMultiLevel:
    params = {"du": 4095, "dv": 0, "bias_mant": np.zeros(n), "bias_exp": np.zeros(n), "theta_exp": 8, "offset": 0,
              "levels": 2}
    params.update(kw)
    return QMultiLevel(**params)


def test_multilevel_payload_residual_and_clipping() -> None:
    """Quantum 2**8 = 256, levels 2, biases 100, 300, 1000 and -50 (no input)."""
    node = multilevel(4, bias_mant=np.array([100, 300, 1000, -50]))
    res = ReferenceSimulator(chain(1, [(QDense(weight=np.zeros((4, 1))), node)])).run(
        np.zeros((1, 6, 1), np.int64), record_states=True)
    lay = res.layers["layer0"]
    assert lay.spikes.dtype == np.int32
    np.testing.assert_array_equal(lay.spikes[0].T, [[0, 0, 1, 0, 0, 1],
                                                   [1, 1, 1, 1, 1, 2],
                                                   [2, 2, 2, 2, 2, 2],  # 1000 >> 8 = 3, clipped to levels
                                                   [0, 0, 0, 0, 0, 0]])  # (-50) >> 8 = -1, clipped to 0
    np.testing.assert_array_equal(lay.v[0].T, [[100, 200, 44, 144, 244, 88],
                                              [44, 88, 132, 176, 220, 8],
                                              [488, 976, 1464, 1952, 2440, 2928],  # the residual grows
                                              [-50, -100, -150, -200, -250, -300]])
    np.testing.assert_array_equal(lay.u, 0)


def test_multilevel_offset_and_input_current() -> None:
    """offset 100 adds to v before the shift only; a graded input payload 3 through weight 2 gives u = 6 << 6."""
    node = multilevel(1, bias_mant=np.array([200]), offset=100, levels=15)
    res = ReferenceSimulator(chain(1, [(QDense(weight=np.array([[2]]), graded=True), node)], graded_input=True,
                                   max_value=3)).run(np.array([[[0], [0], [3], [0]]]), record_states=True)
    lay = res.layers["layer0"]
    np.testing.assert_array_equal(lay.u[0, :, 0], [0, 0, 384, 0])
    # v: 200 -> (300 >> 8) = 1 -> -56; 144 -> 0; 144 + 200 + 384 = 728 -> (828 >> 8) = 3 -> -40; 160 -> 1 -> -96
    np.testing.assert_array_equal(lay.spikes[0, :, 0], [1, 0, 3, 1])
    np.testing.assert_array_equal(lay.v[0, :, 0], [-56, 144, -40, -96])


def test_graded_synapse_multiplies_the_payload() -> None:
    """A multi-level layer (payloads 0..2) through weight 3 into a QLIF: the LIF receives 3 z one step later."""
    ml = multilevel(1, bias_mant=np.array([300]))
    stages = [(QDense(weight=np.zeros((1, 1))), ml), (QDense(weight=np.array([[3]]), graded=True), qlif(1))]
    g = chain(1, stages)
    res = ReferenceSimulator(g).run(np.zeros((1, 6, 1), np.int64), record_states=True)
    z = res.layers["layer0"].spikes[0, :, 0]
    np.testing.assert_array_equal(z, [1, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(res.layers["layer1"].u[0, :, 0], (3 * z) << 6)
    counts = count_operations(g, np.zeros((1, 6, 1), np.int64), res.layers)
    assert counts["dense1"].synops == 6 and counts["dense1"].graded_input  # one MAC per non-zero payload
    assert counts["layer0"].spikes == 6 and counts["layer0"].spikes_per_neuron.tolist() == [6]  # messages
    g.nodes["dense1"].graded = False
    with pytest.raises(GraphError, match="graded") as exc:
        ReferenceSimulator(g)
    assert exc.value.layer == "dense1"


# ---- AR-LIF -----------------------------------------------------------------------------------------------------
def arlif(**kw: object) -> QARLIF:
    params = {"dv": 2048, "vth": 4096, "amp": 0, "gate": 4096, "bias": np.array([4096])}
    params.update(kw)
    return QARLIF(**params)


def run_arlif(node: QARLIF, x: np.ndarray, weight: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    res = ReferenceSimulator(chain(1, [(QDense(weight=np.array([[weight]])), node)])).run(x, record_states=True)
    lay = res.layers["layer0"]
    return lay.spikes[0, :, 0], lay.v[0, :, 0], lay.u[0, :, 0]  # u holds the reset memory m


def test_arlif_constant_input() -> None:
    """x = 1.0 (Q12 4096), leak 0.5, vth 1.0, amp 0, gate 1.0. The sigmoid table: sigmoid(1.0) = knot 4 = 2994;
    sigmoid(2189) = knot 2 + round(232 * 141 / 1024) = 2550 + 32; sigmoid(2619) = 2550 + round(232 * 571 / 1024)."""
    s, v, m = run_arlif(arlif(), np.zeros((1, 4, 1), np.int64))
    np.testing.assert_array_equal(s, [0, 1, 0, 1])
    # t=1: m = -(2994 * 1102 >> 12) + 2994; t=2: (2189 * 2994 >> 12) - 2994; t=3: -(1394 * 1102 >> 12) + 2994
    np.testing.assert_array_equal(m, [-2994, -805 + 2994, 1600 - 2994, -375 + 2994])  # m changes sign with every spike
    np.testing.assert_array_equal(v, [4096, 6144 - 4096 - 2582, -267 + 4096, 1914 + 4096 - 4096 - 2679])


def test_arlif_input_dependent_threshold() -> None:
    """amp = -0.5: thr = 1.0 - 0.5 tanh(1.0) = 4096 - (2048 * 3120 >> 12) = 2536 (tanh(1.0) = 2 sigmoid(2.0) - 1 =
    2 * knot 8 - 4096), so v = 4096 already spikes."""
    s, v, m = run_arlif(arlif(amp=-2048), np.zeros((1, 2, 1), np.int64))
    np.testing.assert_array_equal(s, [1, 1])
    np.testing.assert_array_equal(m, [2994, (2994 * 2994 >> 12) + 2994])
    # sigmoid(2994) = 2550 + round(232 * 946 / 1024); sigmoid(5182) = knot 5 + round(165 * 62 / 1024) = 3184 + 10
    np.testing.assert_array_equal(v, [4096 - 2536 - 2764, -602 + 4096 - 2536 - 3194])


def test_arlif_input_current_is_shifted_synaptic_input_plus_bias() -> None:
    """No bias; one input spike through weight 64 gives x = 64 << 6 = 4096 at t = 0, then x = 0."""
    s, v, m = run_arlif(arlif(bias=np.array([0])), np.array([[[1], [0]]]), weight=64)
    np.testing.assert_array_equal(s, [0, 0])
    np.testing.assert_array_equal(v, [4096, 2048])
    np.testing.assert_array_equal(m, [-2994, -3545])  # m * (1 - sigmoid(0)) - sigmoid(0) = -1497 - 2048


def test_arlif_input_gain_scales_the_synaptic_sum_with_a_rounding_shift() -> None:
    """Free input scale: weight 5, gain 3, shift -2, no bias: one spike gives x = round(15 / 4) = 4 at t = 0."""
    s, v, m = run_arlif(arlif(bias=np.array([0]), input_gain=3, input_shift=-2), np.array([[[1], [0]]]), weight=5)
    np.testing.assert_array_equal(s, [0, 0])
    np.testing.assert_array_equal(v, [4, 2])
    # sigmoid(4) = 2048 + round(255 * 4 / 1024) = 2049; then m * (1 - sigmoid(0)) - sigmoid(0): -1024.5 truncates
    # toward zero, -1024 - 2048
    np.testing.assert_array_equal(m, [-2049, -3072])


def test_operation_counts_cover_every_neuron_type() -> None:
    stages = [(QDense(weight=np.ones((2, 1))), arlif(bias=np.full(2, 4096))),
              (QDense(weight=np.ones((3, 2))), multilevel(3, bias_mant=np.full(3, 300))),
              (QDense(weight=np.ones((1, 3)), graded=True), qlif(1, v_min=0))]
    g = chain(1, stages)
    x = np.zeros((2, 5, 1), np.int64)
    res = ReferenceSimulator(g).run(x)
    for i in range(3):
        c = res.counts[f"layer{i}"]
        assert c.neuron_updates == 2 * 5 * g.nodes[f"layer{i}"].in_shape[0]
        assert c.spikes == int((res.layers[f"layer{i}"].spikes != 0).sum())
    assert res.counts["layer0"].spikes > 0 and res.counts["layer1"].spikes > 0
