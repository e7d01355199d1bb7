"""The Python API: snncc.compile on a module, Bundle.run on every backend, snncc.testing.assert_equivalent."""

import numpy as np
import pytest

import snncc
from snncc.testing import assert_equivalent
from snncc.verify import compare_results
from tests.models import mlp


@pytest.mark.lava
def test_compile_module_and_run_backends(tmp_path):
    bundle = snncc.compile(mlp(sizes=(10, 14, 4), resets=("zero", "zero")), out_dir=tmp_path / "b",
                           options=snncc.Options(timesteps=5))
    assert bundle.timesteps == 5 and bundle.encoding.graded and bundle.netx_path is not None
    x = np.random.default_rng(3).integers(0, 9, (3, 5, 10))
    ref = bundle.run(x, "reference", record_states=True)
    lava = bundle.run(x, "lava", record_states=True)
    netx = bundle.run(x, "netx")
    for name, trace in ref.layers.items():
        np.testing.assert_array_equal(trace.spikes, lava.layers[name].spikes)
        np.testing.assert_array_equal(trace.v, lava.layers[name].v)
        np.testing.assert_array_equal(trace.spikes, netx.layers[name].spikes)
    assert_equivalent(snncc.load_bundle(tmp_path / "b"), x)


def test_compare_results_reports_the_first_difference():
    bundle = snncc.compile(mlp(sizes=(6, 5, 3)), options=snncc.Options(timesteps=4))
    x = np.random.default_rng(0).integers(0, 9, (2, 4, 6))
    a = bundle.run(x, "reference", record_states=True)
    b = bundle.run(x, "reference", record_states=True)
    assert compare_results("a", a, "b", b, states=True).equal
    layer = a.output_layers[0]
    b.layers[layer].v[1, 2, 0] += 1
    cmp = compare_results("a", a, "b", b, states=True)
    assert not cmp.equal
    assert cmp.first_mismatch == {"layer": layer, "trace": "v", "sample": 1, "step": 2, "neuron": 0,
                                  "a": int(a.layers[layer].v[1, 2, 0]), "b": int(b.layers[layer].v[1, 2, 0])}
    with pytest.raises(snncc.SnnccError, match="no netx file"):
        bundle.run(x, "netx")
