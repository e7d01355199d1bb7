"""Networks trained in (built with) the SNN libraries, exported by the libraries' own NIR export, compiled with
``--from <library>``: snncc's float simulation must reproduce the library's own output spikes exactly; the integer
(deployed) agreement is printed."""

from __future__ import annotations

import numpy as np
import pytest

import snncc
from snncc import cli
from snncc.frontend import SemanticsRequest
from tests.sources import norse_nets, rockpool_nets, sinabs_nets, snntorch_nets, spikingjelly_nets

SOURCES = {"snntorch": snntorch_nets, "norse": norse_nets, "sinabs": sinabs_nets, "spikingjelly": spikingjelly_nets,
           "rockpool": rockpool_nets}
CASES = [(lib, name) for lib, module in SOURCES.items() for name in module.CASES]


@pytest.mark.parametrize(("library", "name"), CASES, ids=[f"{lib}-{name}" for lib, name in CASES])
def test_library_spikes_reproduced(tmp_path, library: str, name: str) -> None:
    case = SOURCES[library].CASES[name](tmp_path)
    if case.flags.get("max_spikes", 1) > 1:  # a multi-spike case must send several spikes in some step
        assert case.spikes.max() > 1
    rate = float(case.spikes.mean())
    assert 0.01 < rate < 0.9, f"the library's output layer fires at rate {rate:.3f}"
    semantics = SemanticsRequest(library=library, **case.flags)
    bundle = snncc.compile(case.nir_path, "loihi2", None,
                           snncc.Options(timesteps=case.inputs.shape[1], samples=2, semantics=semantics))
    out = bundle.run(case.payloads, "float")
    got = out.layers[list(out.layers)[-1]].spikes
    mismatches = int((got != case.spikes).sum())
    deployed = bundle.run(case.payloads, "reference")
    agreement = float((deployed.layers[list(deployed.layers)[-1]].spikes == case.spikes).mean())
    print(f"{library} {name}: {int(case.spikes.sum())} library spikes, float mismatches {mismatches}, "
          f"integer agreement {agreement:.1%}")
    assert mismatches == 0


FIRST = [(lib, next(iter(module.CASES))) for lib, module in SOURCES.items()] + [("norse", "conv-lifcell"),
                                                                          ("sinabs", "conv-lif-multispike"),
                                                                          ("snntorch", "dense-rleaky"),
                                                                          ("snntorch", "dense-rsynaptic")]


@pytest.mark.lava
@pytest.mark.parametrize(("library", "name"), FIRST, ids=[f"{lib}-{name}" for lib, name in FIRST])
def test_library_bundle_verifies_on_lava(tmp_path, capsys, library: str, name: str) -> None:
    """The deployed network of each library's export: the reference simulator and Lava agree bit for bit on the
    library's own inputs (``snncc verify``)."""
    case = SOURCES[library].CASES[name](tmp_path)
    np.save(tmp_path / "x.npy", case.payloads)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in case.flags.items()]
    assert cli.main(["compile", str(case.nir_path), "--from", library, *flags, "-o", str(tmp_path / "b"), "-q",
                     "--timesteps", str(case.inputs.shape[1])]) == 0
    assert cli.main(["verify", str(tmp_path / "b"), "--inputs", str(tmp_path / "x.npy"), "-q"]) == 0
    assert "reference vs lava: BIT-EXACT" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["conv-zero", "conv-subtract"])
def test_exported_nir_of_a_library_conv_network_reimports_to_identical_spikes(tmp_path, name: str) -> None:
    """A conv bundle compiled from snnTorch's export -> ``snncc export --nir`` (standard NIR, read by nir.read) ->
    ``snncc compile`` with no flag: the same float and deployed spikes on the library's inputs."""
    import nir

    case = snntorch_nets.CASES[name](tmp_path)
    options = snncc.Options(timesteps=case.inputs.shape[1], samples=2,
                            semantics=SemanticsRequest(library="snntorch", **case.flags))
    first = snncc.compile(case.nir_path, "loihi2", tmp_path / "b1", options)
    metadata = [] if name == "conv-zero" else ["--allow-metadata"]
    assert cli.main(["export", str(tmp_path / "b1"), "--nir", str(tmp_path / "out.nir"), *metadata]) == 0
    nir.read(tmp_path / "out.nir")
    again = snncc.compile(tmp_path / "out.nir", "loihi2", None, snncc.Options(timesteps=case.inputs.shape[1],
                                                                              samples=2))
    for backend in ("float", "reference"):
        a, b = first.run(case.payloads, backend), again.run(case.payloads, backend)
        np.testing.assert_array_equal(a.layers[list(a.layers)[-1]].spikes, b.layers[list(b.layers)[-1]].spikes)
    assert again.run(case.payloads, "float").layers[list(a.layers)[-1]].spikes.any()
