"""What a NIR file leaves open (time step, reset, threshold test, integration scheme) is decided by a flag, a library
preset or the file's own metadata, never assumed: each undecided case is one line naming the flags, every choice is
recorded with who made it, and the repairs refuse what they cannot tell."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import snncc
from snncc import cli
from snncc.bundle import FLOAT_GRAPH_FILE
from snncc.errors import GraphError
from snncc.frontend import SemanticsRequest, import_model
from snncc.ir import keys

ALL = ("--dt", "--reset", "--threshold", "--discretization", "--max-spikes")


def _graph(tau: float = 1e-3, cuba: bool = False) -> nir.NIRGraph:
    neuron = (nir.CubaLIF(tau_mem=np.full(3, tau), tau_syn=np.full(3, tau / 2), r=np.ones(3), v_leak=np.zeros(3),
                          v_threshold=np.ones(3)) if cuba else
              nir.LIF(tau=np.full(3, tau), r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3)))
    return nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}),
                                  nir.Linear(weight=np.full((3, 4), 0.4)), neuron,
                                  nir.Output(output_type={"output": np.array([3])}))


@pytest.fixture
def nir_file(tmp_path):
    path = tmp_path / "net.nir"
    nir.write(path, _graph())
    return path


def _one_line_error(capsys, argv: list[str]) -> str:
    assert cli.main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[snncc]")]
    assert len(err) == 1 and err[0].startswith("snncc: error: "), err
    return err[0]


@pytest.mark.parametrize("given", [(), ("--dt", "1e-4"), ("--dt", "1e-4", "--reset", "zero"),
                                   ("--dt", "1e-4", "--reset", "zero", "--threshold", "gt"),
                                   ("--reset", "zero", "--threshold", "ge", "--discretization", "exact"),
                                   ("--from", "nir")])
def test_each_undecided_choice_is_one_line_naming_its_flag(capsys, tmp_path, nir_file, given) -> None:
    line = _one_line_error(capsys, ["compile", str(nir_file), "-o", str(tmp_path / "b"), *given])
    told = set(given) | ({"--reset", "--threshold", "--discretization", "--max-spikes"} if "--from" in given else set())
    for flag in ALL:
        assert (flag in line) == (flag not in told), (flag, line)
    assert "--from" in line and "do not record" in line
    assert not (tmp_path / "b").exists()


def test_flags_override_the_preset_and_every_choice_is_recorded(nir_file) -> None:
    g = import_model(nir_file, semantics=SemanticsRequest(library="snntorch", reset="zero"))
    record = g.metadata[keys.SEMANTICS]
    assert record["preset"] == "snntorch" and record["repairs"] == []
    assert record["choices"]["reset"] == {"value": "zero", "by": "--reset", "why": ""}
    assert record["choices"]["dt"]["value"] == 1e-4 and record["choices"]["dt"]["by"] == "--from snntorch"
    assert "hard-coded" in record["choices"]["dt"]["why"]
    assert (g.metadata[keys.DT], g.metadata[keys.RESET], g.metadata[keys.FIRE_AT_THRESHOLD],
            g.metadata[keys.DISCRETIZATION]) == (1e-4, "zero", False, "euler")


def test_a_bundle_float_graph_states_its_own_semantics(tmp_path, nir_file) -> None:
    """snncc writes what it decided into the files it writes: re-reading one needs no flag."""
    snncc.compile(nir_file, "loihi2", tmp_path / "b", snncc.Options(
        timesteps=4, samples=2, semantics=SemanticsRequest(library="sinabs", dt=1e-4, max_spikes=1)))
    choices = import_model(tmp_path / "b" / FLOAT_GRAPH_FILE).metadata[keys.SEMANTICS]["choices"]
    assert {f: (c["value"], c["by"]) for f, c in choices.items()} == {
        "dt": (1e-4, "the file's metadata"), "reset": ("subtract", "the file's metadata"),
        "fire_at_threshold": (True, "the file's metadata"), "discretization": ("exact", "the file's metadata"),
        "max_spikes": (1, "the file's metadata")}


def test_the_report_shows_the_preset_and_its_reasons(tmp_path, nir_file) -> None:
    bundle = snncc.compile(nir_file, "loihi2", tmp_path / "b", snncc.Options(
        timesteps=4, samples=2, semantics=SemanticsRequest(library="spikingjelly", dt=1e-4)))
    report = (tmp_path / "b" / "report.md").read_text()
    assert "preset **spikingjelly** (SpikingJelly 2.0.0)" in report
    assert "| dt | 0.0001 | --dt |" in report and "heaviside(0) = 1" in report
    assert "spike on v >= threshold" in snncc.compiler.summary(bundle)


def test_a_bad_value_names_who_gave_it(tmp_path) -> None:
    g = _graph()
    g.metadata = {"dt": -1.0}
    path = tmp_path / "m.nir"
    nir.write(path, g)
    with pytest.raises(GraphError, match=r"dt must be a positive number.*given by the file's metadata"):
        import_model(path, semantics=SemanticsRequest(library="nir"))
    import_model(path, semantics=SemanticsRequest(library="nir", dt=1e-3))  # a flag over the file's value


def test_norse_repair_refuses_a_half_repaired_file(tmp_path) -> None:
    g = _graph(tau=1e-5)  # Norse's bug: tau = dt * tau_mem
    g.nodes["lif"].tau[0] = 1e-2
    path = tmp_path / "half.nir"
    nir.write(path, g)
    with pytest.raises(GraphError, match="mixes repaired and unrepaired"):
        import_model(path, semantics=SemanticsRequest(library="norse"))


def test_norse_repair_leaves_a_sound_file_alone(tmp_path) -> None:
    path = tmp_path / "sound.nir"
    nir.write(path, _graph(tau=1e-2))
    g = import_model(path, semantics=SemanticsRequest(library="norse"))
    assert g.metadata[keys.SEMANTICS]["repairs"] == [] and g.nodes["lif"].tau[0] == 1e-2


def test_rockpool_repair_refuses_values_rockpool_does_not_write(tmp_path) -> None:
    path = tmp_path / "other.nir"
    nir.write(path, _graph(tau=2e-2, cuba=True))
    with pytest.raises(GraphError, match="not what Rockpool's export writes"):
        import_model(path, semantics=SemanticsRequest(library="rockpool"))


def test_delay_is_a_named_error(tmp_path) -> None:
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([3])}), nir.Delay(delay=np.ones(3)),
                               nir.Output(output_type={"output": np.array([3])}))
    path = tmp_path / "delay.nir"
    nir.write(path, g)
    with pytest.raises(snncc.SnnccError, match="Delay"):
        import_model(path, semantics=SemanticsRequest(library="nir", dt=1e-3))


def test_unrepaired_norse_files_point_at_their_bugs(tmp_path) -> None:
    """Without --from norse, a raw Norse export's batch dimension and its tau = dt * tau_mem are errors that name
    the bug and the preset, not a bare shape or decay complaint."""
    g = _graph(tau=1e-5)
    g.nodes["input"] = nir.Input(input_type={"input": np.array([3, 4])})
    path = tmp_path / "raw.nir"
    nir.write(path, nir.NIRGraph(nodes=g.nodes, edges=g.edges, type_check=False))
    with pytest.raises(GraphError, match=r"batch dimension.*Norse.*--from norse"):
        import_model(path, semantics=SemanticsRequest(library="nir", dt=1e-3))
    g = _graph(tau=1e-5)
    nir.write(path, g)
    with pytest.raises(GraphError, match=r"decay_v outside \[0, 1\].*norse#411.*--from norse"):
        snncc.compile(path, "loihi2", None, snncc.Options(timesteps=2, samples=1,
                                                          semantics=SemanticsRequest(library="nir", dt=1e-3)))
    g = import_model(path, semantics=SemanticsRequest(library="norse"))
    assert g.nodes["lif"].tau[0] == pytest.approx(1e-2)
