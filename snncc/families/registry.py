"""Finding the family of a node, a NIR neuron type or a torch module; one named error for what no family claims."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from snncc.errors import UnsupportedLayerError
from snncc.families.base import Family, Option


class Registry:
    """The registered families, indexed by the node types, NIR types and torch modules they declare."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.families: tuple[Family, ...] = tuple(families)
        self._by_node: dict[type, Family] = {}
        self._by_nir: dict[type, Family] = {}  # binary NIR neurons
        self._by_nir_multi: dict[type, Family] = {}  # NIR neurons that send several spikes a step
        for fam in self.families:
            for t in (*fam.float_nodes, *fam.integer_nodes):
                self._claim(self._by_node, t, fam)
            for t in fam.nir_types:
                self._claim(self._by_nir_multi if fam.nir_multi_spike else self._by_nir, t, fam)
        self._by_module: dict[type, Family] | None = None  # torch modules: loaded on first use (imports torch)

    @staticmethod
    def _claim(index: dict[type, Family], t: type, fam: Family) -> None:
        if t in index:
            raise ValueError(f"{t.__name__} is claimed by the {index[t].name} and the {fam.name} families")
        index[t] = fam

    def __iter__(self):
        return iter(self.families)

    def family(self, name: str) -> Family:
        for fam in self.families:
            if fam.name == name:
                return fam
        raise KeyError(name)

    # ---- nodes ------------------------------------------------------------------------------------------------
    def of(self, node: Any, layer: str | None = None) -> Family:
        """The family of an IR neuron node or a NIR neuron; UnsupportedLayerError naming the layer otherwise."""
        fam = self._by_node.get(type(node)) or self._by_nir.get(type(node))
        if fam is None:
            raise UnsupportedLayerError(f"node type {type(node).__name__} belongs to no registered neuron family",
                                        layer=layer)
        return fam

    def nir_family(self, node: Any, max_spikes: int, layer: str) -> Family:
        """The family importing NIR neuron ``node`` when it sends up to ``max_spikes`` spikes a step."""
        fam = (self._by_nir if max_spikes == 1 else self._by_nir_multi).get(type(node))
        if fam is None:
            raise UnsupportedLayerError(f"no family imports a NIR {type(node).__name__} sending up to {max_spikes} "
                                        "spikes a step", layer=layer, hint="--max-spikes 1 for binary spikes")
        return fam

    def nir_types(self) -> tuple[type, ...]:
        """The continuous-time NIR neuron types some family imports."""
        return tuple(dict.fromkeys((*self._by_nir, *self._by_nir_multi)))

    def is_nir_neuron(self, node: Any) -> bool:
        return type(node) in self._by_nir or type(node) in self._by_nir_multi

    # ---- torch modules ----------------------------------------------------------------------------------------
    def torch_modules(self) -> tuple[type, ...]:
        """Every torch module class of every family (imports torch)."""
        return tuple(self._modules())

    def module_family(self, module: Any) -> Family | None:
        """The family of a torch module instance (None for modules no family defines)."""
        return self._modules().get(type(module))

    def _modules(self) -> dict[type, Family]:
        if self._by_module is None:
            index: dict[type, Family] = {}
            for fam in self.families:
                for t in fam.torch_modules():
                    self._claim(index, t, fam)
            self._by_module = index
        return self._by_module

    def netx_family(self, netx_type: str) -> Family | None:
        """The family that imports netx neurons of ``type`` ``netx_type`` (None if none does)."""
        return next((fam for fam in self.families if netx_type in fam.netx_types()), None)

    def netx_types(self) -> tuple[str, ...]:
        return tuple(t for fam in self.families for t in fam.netx_types())

    def relay(self, kind: str) -> Family:
        """The family whose neurons make relays of ``kind`` ("binary" or "graded")."""
        for fam in self.families:
            if fam.relay == kind:
                return fam
        raise KeyError(f"no registered family makes {kind} relays")

    # ---- options ----------------------------------------------------------------------------------------------
    def options(self, stage: str) -> list[Option]:
        """The options the families add to the pass ``stage``."""
        return [o for fam in self.families for o in fam.options if o.stage == stage]
