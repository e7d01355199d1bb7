"""The package's import graph has no cycles and respects the layer contract of ``tests/importgraph.py``; no
library module outgrows one job.

Every import statement counts, the ones inside functions too, so a lazy import cannot hide a cycle or an upward
dependency. The checks are also run on small hand-built graphs, so that they are seen to fail.
"""

from __future__ import annotations

from tests.importgraph import LAYERS, cycles, import_graph, layer_of, modules, unplaced, upward_imports

GRAPH = import_graph()


def test_the_graph_covers_the_package_and_sees_function_level_imports() -> None:
    assert len(GRAPH) > 100
    assert "snncc.backends.lava.execution" in GRAPH  # backends/ is installed as snncc.backends
    # substep's Lava runner imports the Lava backend inside a method only
    assert "snncc.backends.lava.execution" in GRAPH["snncc.families.substep.runners"]


def test_no_import_cycles() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(", ".join(c) for c in found)


def test_every_module_has_a_layer() -> None:
    assert not unplaced(GRAPH), f"modules without a layer in tests/importgraph.LAYERS: {unplaced(GRAPH)}"


def test_no_module_imports_a_layer_above_it() -> None:
    up = upward_imports(GRAPH)
    assert not up, "imports against the layer contract:\n" + "\n".join(up)


def test_layers_are_assigned_by_the_longest_pattern() -> None:
    names = [name for name, _ in LAYERS]
    assert names[layer_of("snncc.families.substep.runners")] == "backends"
    assert names[layer_of("snncc.families.substep.nodes")] == "families"
    assert names[layer_of("snncc")] == "api"
    assert layer_of("snncc.unknown_package") is None  # the root pattern matches only the root


def test_the_checks_fail_on_a_cycle_and_an_upward_import() -> None:
    graph = {
        "snncc.ir.graph": {"snncc.passes.quantize": 3},  # ir importing passes runs up
        "snncc.passes.quantize": {"snncc.ir.graph": 1, "snncc.mapping.greedy": 2},
        "snncc.mapping.greedy": {"snncc.passes.quantize": 7},
        "snncc.newthing": {},
    }
    assert cycles(graph) == [["snncc.ir.graph", "snncc.mapping.greedy", "snncc.passes.quantize"]]
    up = upward_imports(graph)
    assert up == [
        "snncc.ir.graph:3 (ir) imports snncc.passes.quantize (passes), a layer above it",
        "snncc.mapping.greedy:7 (mapping) imports snncc.passes.quantize (passes), a layer above it",
    ]
    assert unplaced(graph) == ["snncc.newthing"]


MAX_MODULE_LINES = 450


def test_no_library_module_is_longer_than_450_lines() -> None:
    long = {m: n for m, f in modules().items() if (n := len(f.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"
