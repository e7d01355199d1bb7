"""Target descriptions load, and malformed ones are rejected with a message naming the key."""

import copy

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
        (lambda d: d["energy"]["synop"].update(value="fast"), "'energy.synop.value' must be a number"),
        (lambda d: d["core_limits"]["neurons"].update(value=-5), "'core_limits.neurons' must be a positive integer"),
        (lambda d: d["formats"]["weight_exp_min"].update(value=9), "weight_exp_min exceeds"),
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
