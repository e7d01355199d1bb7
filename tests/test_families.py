"""The family registry: what it finds, the named error for what no family claims, and old pickles that still load."""

import pickletools
import zipfile
from pathlib import Path

import nir
import numpy as np
import pytest

from snncc.errors import UnsupportedLayerError
from snncc.families import REGISTRY, Registry
from snncc.families.base import Family
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.frontend.loading import LEGACY_CLASSES, SNNCC_MODULES, load_model
from snncc.ir import QDense

ROOT = Path(__file__).resolve().parents[1]


def test_the_registry_finds_the_family_of_nodes_nir_types_and_modules() -> None:
    from snncc import neurons as N

    lif = REGISTRY.family("lif")
    assert REGISTRY.of(LIFNeuron(decay_v=np.ones(2), decay_i=np.zeros(2), threshold=np.ones(2), bias=np.zeros(2))) \
        is lif
    assert REGISTRY.of(nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))) is lif
    assert REGISTRY.module_family(N.ARLIF()) is REGISTRY.family("arlif")
    assert REGISTRY.module_family(N.QCFS(levels=4)) is REGISTRY.family("multilevel")
    assert REGISTRY.relay("binary") is lif and REGISTRY.relay("graded") is REGISTRY.family("multilevel")
    assert {o.name for o in REGISTRY.options("lower-neurons")} == {"arlif"}


def test_a_node_no_family_claims_is_a_named_error() -> None:
    dense = QDense(weight=np.ones((2, 2), np.int64), weight_exp=0)
    with pytest.raises(UnsupportedLayerError, match="layer 'fc1': node type QDense belongs to no registered"):
        REGISTRY.of(dense, "fc1")
    with pytest.raises(KeyError, match="no registered family makes ternary relays"):
        REGISTRY.relay("ternary")


def test_two_families_cannot_claim_one_node_type() -> None:
    class Copy(Family):
        name = "copy"
        integer_nodes = (QLIF,)

    with pytest.raises(ValueError, match="QLIF is claimed by the lif and the copy families"):
        Registry([REGISTRY.family("lif"), Copy()])


def _pickled_globals(path: Path) -> set[str]:
    """The ``module.name`` globals a torch.save file's pickle refers to."""
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    out, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            out.add(f"{strings[-2]}.{strings[-1]}")
        elif op.name == "GLOBAL":
            out.add(arg.replace(" ", "."))
    return out


SHIPPED = sorted((ROOT / "examples").glob("*/*.pt"))
CURRENT = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in SNNCC_MODULES}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_models_load_safely_through_old_and_current_class_paths(path: Path) -> None:
    names = {n for n in _pickled_globals(path) if n.startswith("snncc.")}
    known = {**LEGACY_CLASSES, **CURRENT}
    assert names and names <= set(known), f"{path.name} pickles classes at paths no module declares: {names}"
    loaded = load_model(path)
    assert not loaded.unsafe
    assert {known[n] for n in names} <= {type(m) for m in loaded.module.modules()}


def test_the_shipped_models_include_pickles_of_snncc_0_1() -> None:
    """They were saved before the families moved, so the old paths are exercised (retrained ones use the new)."""
    legacy = {n for path in SHIPPED for n in _pickled_globals(path) if n in LEGACY_CLASSES}
    assert {"snncc.neurons.lif.LIF", "snncc.neurons.multilevel.ASN", "snncc.neurons.arlif.ARLIF"} <= legacy
