"""Target descriptions load, and malformed ones are rejected with a message naming the key."""

import copy

import numpy as np
import pytest
import yaml

from snncc.errors import TargetError
from snncc.target import builtin_targets, load_target, parse_target


def _data():
    from importlib.resources import files

    return yaml.safe_load((files("snncc.targets") / "loihi2.yaml").read_text())


def test_loihi2_loads_with_provenance():
    t = load_target("loihi2")
    assert "loihi2" in builtin_targets()
    assert t.neuron_format.vth_max == (1 << 17) - 1 and t.synapse_format.weight_max == 127
    assert t.total_cores == 128
    for section in t.figures.values():
        for fig in section.values():
            assert fig.source.strip() and isinstance(fig.confirmed, bool)
    assert not t.figures["core_limits"]["neurons"].confirmed  # the Loihi 2 per-core limit is an assumption
    assert t.primitives["lif_soft_reset"].kind == "custom" and t.primitives["lif_hard_reset"].kind == "stock"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("core_limits"), "missing section 'core_limits'"),
        (lambda d: d["core_limits"].pop("memory"), "missing figure 'core_limits.memory'"),
        (lambda d: d["energy"]["synop"].pop("source"), "'energy.synop' lacks source"),
        (lambda d: d["energy"]["synop"].update(value="fast"),
         "'energy.synop.value' must be a finite number, got 'fast'"),
        (lambda d: d["core_limits"]["neurons"].update(value=-5), "'core_limits.neurons.value' must lie in"),
        (lambda d: d["formats"]["weight_exp_min"].update(value=9),
         "formats.weight_exp_min (9) exceeds formats.weight_exp_max (7)"),
        (lambda d: d["primitives"].pop("dense"), "primitive 'dense' is not declared"),
        (lambda d: d.update(schema_version=7), "schema_version must be 1"),
    ],
)
def test_malformed_targets_are_rejected(mutate, message):
    d = copy.deepcopy(_data())
    mutate(d)
    with pytest.raises(TargetError, match=message.replace("(", "\\(").replace(")", "\\)")):
        parse_target(d, "bad.yaml")


def test_unknown_target_and_bad_yaml(tmp_path):
    with pytest.raises(TargetError, match="unknown target 'loihi9'"):
        load_target("loihi9")
    bad = tmp_path / "t.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(TargetError, match="not valid YAML"):
        load_target(bad)
    with pytest.raises(TargetError, match="does not exist"):
        load_target(tmp_path / "none.yaml")


def test_target_variant_replaces_figures_and_marks_them_unconfirmed(tmp_path):
    from snncc.target import target_variant

    path = target_variant("loihi2", {"formats.weight_bits": 4, "system.chips": 3}, "sweep", tmp_path)
    t = load_target(path)
    assert t.synapse_format.weight_max == 7 and t.value("system", "chips") == 3
    assert t.figures["formats"]["weight_bits"].confirmed is False
    assert "override of loihi2: sweep" in t.figures["formats"]["weight_bits"].source
    base = load_target("loihi2")
    assert t.neuron_format == base.neuron_format and t.name != base.name  # the rest is loihi2's, the name says so
    with pytest.raises(TargetError, match="no figure 'formats.nope'"):
        target_variant("loihi2", {"formats.nope": 1}, "sweep", tmp_path)
    with pytest.raises(TargetError):
        target_variant("loihi2", {"formats.weight_bits": 0}, "sweep", tmp_path)  # still validated


def _target_file(tmp_path, **changes):
    d = copy.deepcopy(_data())
    d.update(changes)
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"exporters": ["netx", "onnx"]}, "chip.yaml: unknown exporter 'onnx' in 'exporters' (hint: exporters: netx)"),
    ({"backends": ["reference", "float", "loihi"]}, "chip.yaml: unknown backend 'loihi' in 'backends'"),
    ({"backends": ["reference", "lava"]}, "chip.yaml: 'backends' must include float (every compile runs it)"),
])
def test_a_target_naming_backends_or_exporters_snncc_lacks_fails_before_the_compile(tmp_path, changes, message):
    from snncc.compiler import compile_model
    from tests.models import mlp

    progress: list[str] = []
    with pytest.raises(TargetError) as err:
        compile_model(mlp(sizes=(6, 5, 3)), _target_file(tmp_path, **changes), tmp_path / "b", progress=progress.append)
    assert message in str(err.value)
    assert not any("pass" in line for line in progress) and not (tmp_path / "b").exists()


def test_a_target_chooses_its_exporters_and_backends(tmp_path):
    from snncc.compiler import compile_model
    from snncc.errors import BundleError
    from tests.models import mlp

    target = _target_file(tmp_path, exporters=[], backends=["reference", "float"])
    bundle = compile_model(mlp(sizes=(6, 5, 3)), target, tmp_path / "b")
    assert not (tmp_path / "b" / "network.net").exists() and "netx" not in bundle.manifest
    with pytest.raises(BundleError, match="does not run the 'lava' backend \\(its backends: reference, float\\)"):
        bundle.run(np.zeros((1, 4, 6), np.int64), "lava")


def test_a_target_file_derives_from_a_base():
    """loihi2-kapoho-point gives only its system figures; every other figure, the primitives and the lists are
    loihi2's, and a bundle keeps the whole merged description (no 'base' left to resolve)."""
    board, chip = load_target("loihi2-kapoho-point"), load_target("loihi2")
    assert board.total_cores == 8 * chip.total_cores and board.value("system", "cores_per_chip") == 128
    assert board.figures["core_limits"] == chip.figures["core_limits"] and board.primitives == chip.primitives
    assert board.figures["energy"] == chip.figures["energy"] and board.backends == chip.backends
    assert "base" not in board.to_yaml_data() and parse_target(board.to_yaml_data()).total_cores == 1024


def test_a_derived_file_overrides_figures_and_its_base_may_be_a_relative_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.yaml").write_text(yaml.safe_dump({
        "schema_version": 1, "name": "two", "base": "loihi2",
        "system": {"chips": {"value": 2, "unit": "chips", "source": "test", "confirmed": False}}}))
    (tmp_path / "sub" / "three.yaml").write_text(yaml.safe_dump({
        "schema_version": 1, "name": "three", "base": "two.yaml",
        "core_limits": {"neurons": {"value": 100, "unit": "neurons", "source": "test", "confirmed": False}}}))
    t = load_target(tmp_path / "sub" / "three.yaml")
    assert t.name == "three" and t.total_cores == 256 and t.value("core_limits", "neurons") == 100
    assert t.value("core_limits", "memory") == load_target("loihi2").value("core_limits", "memory")


@pytest.mark.parametrize("base, message", [
    ("nowhere", "unknown target 'nowhere'"), (3, "'base' must name a target"), ("self.yaml", "loops back"),
])
def test_a_bad_base_is_a_target_error(tmp_path, base, message):
    path = tmp_path / "self.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "name": "self", "base": base}))
    with pytest.raises(TargetError, match=message):
        load_target(path)
