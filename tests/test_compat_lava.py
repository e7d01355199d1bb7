"""The Lava import shim: lava-nc and netx import on Python 3.11, a tiny network runs, nothing stays patched."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from snncc.compat.lava import import_lava, import_netx

pytestmark = pytest.mark.lava


def test_import_lava_and_netx() -> None:
    lava = import_lava()
    netx = import_netx()
    assert lava.__name__ == "lava"
    assert hasattr(netx.hdf5, "Network")
    assert import_lava() is lava  # idempotent


def test_get_field_restored_in_a_fresh_interpreter() -> None:
    """The patch is active only while var_model imports: afterwards 3.11's mutable-default check is back."""
    code = textwrap.dedent("""
        import dataclasses
        before = dataclasses._get_field
        from snncc.compat.lava import import_lava, import_netx
        import_lava(); import_netx()
        assert dataclasses._get_field is before, "dataclasses._get_field left patched"
        class Unhashable:
            __hash__ = None
        try:
            @dataclasses.dataclass
            class C:
                x: object = Unhashable()
        except ValueError as exc:
            assert "mutable default" in str(exc)
        else:
            raise AssertionError("unhashable default accepted after the import")
        import lava.magma.compiler.var_model as vm
        assert isinstance(vm.CoreEncoder.__dataclass_fields__["x"].default_factory(), vm.ByteEncoder)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_lava_imports_after_the_start_method_was_fixed() -> None:
    """A multiprocessing lock made before Lava (tqdm does, e.g. in SpikingJelly's NIR export) fixes the start
    method; Lava's own set_start_method('fork') would then raise. It imports, and nothing stays patched."""
    code = textwrap.dedent("""
        import multiprocessing
        multiprocessing.Lock()  # fixes the default context, as tqdm's lock does
        before = multiprocessing.set_start_method
        from snncc.compat.lava import import_lava
        import_lava()
        import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401
        assert multiprocessing.set_start_method == before, "set_start_method left patched"
        assert multiprocessing.get_start_method() == "fork"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_get_field_is_dataclasses_own_after_import() -> None:
    import_lava()
    assert dataclasses._get_field.__module__ == "dataclasses"
    assert dataclasses._get_field.__qualname__ == "_get_field"


def test_tiny_dense_lif_run_spikes_where_computed_by_hand() -> None:
    """Input spikes at steps 1 and 3 (1-based) through Dense(w=10) reach the LIF one step later: u = 10 << 6 = 640
    exceeds vth << 6 = 576, so it spikes at steps 2 and 4; du=4095 clears u each step, dv=4096 clears v."""
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    steps = 6
    src = Source(data=np.array([[1, 0, 1, 0, 0, 0]]))
    dense = Dense(weights=np.array([[20]]), weight_exp=-1)
    lif = LIF(shape=(1,), du=4095, dv=4096, vth=9)
    sink = Sink(shape=(1,), buffer=steps)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = sink.data.get()[0]
    finally:
        src.stop()
    np.testing.assert_array_equal(spikes, [0, 1, 0, 1, 0, 0])


def test_process_kind_in_a_fresh_interpreter() -> None:
    """Naming a layer's Lava class can be the first Lava import (``LavaRunner.process_kind`` before any run, on a
    stock layer whose class is lava-nc's own): it goes through the shim too, else Lava's var_model fails on 3.11's
    mutable-default check."""
    code = textwrap.dedent("""
        import numpy as np
        from tests.graphs import lava_runner, qgraph
        print(lava_runner(qgraph([2, 3], np.random.default_rng(0))).process_kind("lif0"))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "LIFReset"
