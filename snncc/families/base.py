"""What a neuron family declares: its node types and the compiler rules that only it knows.

A family is one folder under ``snncc/families/``: its IR nodes (``nodes.py``: they step themselves, float and
integer), its integer rules (``integer.py``, written once against :class:`snncc.fixedpoint.ExactArithmetic` so the
reference, the Lava models and the torch deploy-exact mode share them), its torch modules (``module.py``, loaded
only when torch is wanted), its Lava processes (``lava/``, a package of its own, loaded only when Lava runs) and a
:class:`Family` object (``__init__.py``) whose hooks the passes call. The registry (:mod:`snncc.families.registry`)
finds the family of a node, a NIR type or a torch module; nothing outside a family's folder lists its types.

Each hook has a default that says "this family has nothing to do here"; a family overrides what applies to it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Protocol

from snncc.errors import UnsupportedLayerError
from snncc.ir import Graph, InputEncoding
from snncc.ir.semantics import NeuronSemantics
from snncc.target import Target


@dataclass(frozen=True)
class Option:
    """A typed choice a family adds to a pass: ``lower-neurons{arlif=stock}`` in a pipeline, ``--arlif stock`` on
    the command line. The pass gets a field ``name`` of type ``Literal[choices]`` with ``default``."""

    stage: str  # the pass it configures
    name: str
    choices: tuple[str, ...]
    default: str
    help: str


class RuleContext(Protocol):
    """What a rule may use of the pass running it (``snncc.passes.PassContext`` is one)."""

    target: Target

    def warn(self, message: str) -> None: ...

    def record_lowering(self, layer: str, note: dict[str, Any], level: str, against: str | None = None) -> None: ...


EXPRESSED, METADATA, REFUSED = "expressed", "metadata", "refused"  # the verdicts of a NIR export feature


@dataclass(frozen=True)
class NirFeature:
    """One row of the NIR export table (``snncc.export.nir.feature_table``): what standard NIR makes of a feature.

    ``verdict``: ``expressed`` (a standard field says it: ``how``), ``metadata`` (no standard field; written to the
    node's metadata ``record(node)``, which only snncc reads back, and only when the user allows it) or ``refused``
    (``how`` says why). ``applies(node)`` says whether a layer uses the feature (None: informational row)."""

    node: str  # the IR type name the row is about (``snncc.LIF``), or a graph-level subject
    feature: str
    verdict: str
    how: str
    applies: Callable[[Any], bool] | None = None
    record: Callable[[Any], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Clock:
    """When a layer's Lava process resets its state and may send: every ``interval`` steps at 1-based step
    ``offset`` (as Lava's ``LIFReset``), sending in the ``window`` steps from each reset. ``windowed``: the layer is
    read outside its window, so a process that cannot keep to the window must not run it."""

    interval: int
    offset: int
    window: int | None
    windowed: bool = False


class Family:
    """Base of the neuron families (see the module docstring)."""

    name: ClassVar[str]
    float_nodes: ClassVar[tuple[type, ...]] = ()  # float IR nodes: traced, lowered, quantized
    integer_nodes: ClassVar[tuple[type, ...]] = ()  # integer IR nodes: simulated, mapped, run on Lava
    nir_types: ClassVar[tuple[type, ...]] = ()  # continuous-time NIR neurons it imports (they need a dt)
    nir_multi_spike: ClassVar[bool] = False  # it imports them where they send several spikes a step (max_spikes > 1)
    options: ClassVar[tuple[Option, ...]] = ()
    netx_neurons: ClassVar[bool] = False  # its integer layers are lava-dl netx's CUBA neurons (netx_neuron)
    # backend name -> "module:Class" of a runner for the graphs this family claims (a clock of its own)
    graph_runners: ClassVar[dict[str, str]] = {}
    relay: ClassVar[str | None] = None  # the kind of relay its neurons make ("binary", "graded"; see relay.py)
    nir_features: ClassVar[tuple[NirFeature, ...]] = ()  # its rows of the NIR export table (to_nir)

    def claims_graph(self, graph: Graph) -> bool:
        """Whether ``graph`` must run on this family's ``graph_runners`` (it is on the family's clock)."""
        return False

    # ---- parts loaded on demand ---------------------------------------------------------------------------
    def _part(self, name: str) -> ModuleType | None:
        """The family folder's module ``name`` (None if the family has none)."""
        module = sys.modules[type(self).__module__]
        package = module.__name__ if hasattr(module, "__path__") else module.__name__.rsplit(".", 1)[0]
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{name}":
                return None
            raise

    def torch_modules(self) -> tuple[type, ...]:
        """The torch modules of the family (its ``module.py``'s ``MODULES``): safe to load, traced by their rule."""
        part = self._part("module")
        return tuple(getattr(part, "MODULES", ())) if part is not None else ()

    # ---- canonicalize ---------------------------------------------------------------------------------------
    def from_nir(self, node: Any, sem: NeuronSemantics, name: str) -> Any:
        """The discrete-time float node of a continuous NIR neuron of ``nir_types``, stepping by ``sem``."""
        raise NotImplementedError

    def canonicalize(self, g: Graph, name: str) -> None:
        """Family-specific canonical rewrites around float layer ``name`` (in place), after biases are folded."""

    def relay_neuron(self, n: int, levels: int | None, metadata: dict, out_scale: float) -> Any:
        """``n`` memoryless float neurons that re-emit their input (``levels``: the largest graded count, None for
        a binary relay), each spike or level worth ``out_scale``; only for a family that declares ``relay``."""
        raise NotImplementedError

    def relays_on(self, target: Target) -> bool:
        """Whether ``target`` runs this family's relays."""
        return True

    # ---- lower-neurons (float level) ------------------------------------------------------------------------
    def lower(self, g: Graph, name: str, choices: dict[str, str]) -> dict | None:
        """Rewrite float layer ``name`` onto other float nodes the quantizer knows, in place; returns the lowering
        note (``from``, ``to``, ``exact``...) or None when nothing changes. ``choices``: the options' values."""
        return None

    def quantizable(self, node: Any) -> bool:
        """Whether :meth:`quantize` can take ``node`` (after lower-neurons)."""
        return True

    # ---- quantize -------------------------------------------------------------------------------------------
    def quantize(self, g: Graph, name: str, enc: InputEncoding, ctx: RuleContext, resolution: str) -> dict:
        """Replace float layer ``name`` and the float synapses feeding it by integer nodes in the target's
        formats, in place; returns the layer's statistics for the report."""
        raise UnsupportedLayerError(f"no quantize rule for {type(g.nodes[name]).__name__}", layer=name)

    def check_formats(self, node: Any, name: str, target: Target) -> None:
        """QuantizationError naming ``name`` when integer layer ``node`` (imported already integer, as from netx)
        holds a value outside ``target``'s formats that the generic check does not cover."""

    # ---- lower-primitives (integer level) -------------------------------------------------------------------
    def lower_primitives(self, g: Graph, ctx: RuleContext, choices: dict[str, str]) -> dict[str, dict]:
        """Rewrite this family's integer layers onto primitives the target has (``ctx.target.primitives``), in
        place; returns the lowering note of each layer rewritten."""
        return {}

    def primitive(self, g: Graph, name: str) -> str:
        """The name of the target primitive (``targets/*.yaml``: ``primitives``) integer layer ``name`` runs on."""
        raise NotImplementedError

    def primitive_hint(self, primitive: str) -> str | None:
        """What to do when the target lacks ``primitive`` (None: nothing to suggest)."""
        return None

    # ---- backends -------------------------------------------------------------------------------------------
    def lava_process(self, node: Any, name: str, process: type, clock: Clock) -> Any:
        """The Lava process (an instance of ``process``, the class the target names for the layer's primitive) of
        integer layer ``name``; ``clock`` says when it resets and may send."""
        part = self._part("lava")
        if part is None:
            raise UnsupportedLayerError(f"the {self.name} family has no Lava process", layer=name)
        return part.build(node, name, process, clock)

    def lava_storage(self, node: Any) -> dict[str, tuple[Any, int]]:
        """The layer's values the Lava process stores, each with the bits of its signed Var (checked before a run)."""
        return {}

    def lava_state_vars(self, node: Any) -> dict[str, str]:
        """The Lava Vars recorded as a layer's ``u`` and ``v`` traces."""
        return {"u": "u", "v": "v"}

    # ---- export (snncc export --nir) ----------------------------------------------------------------------
    def to_nir(self, node: Any, dt: float, name: str, shape: tuple[int, ...], synapse_bias: bool) -> Any:
        """Float layer ``name`` as a standard NIR neuron with time step ``dt`` and parameter arrays of ``shape``:
        a ``(nir_node, bias)`` pair, ``bias`` (or None) being what the exporter must add to the layer's input synapse
        (allowed when ``synapse_bias``). Only called after the rows of ``nir_features`` have been applied."""
        raise UnsupportedLayerError(f"standard NIR has no neuron for the {self.name} family's "
                                    f"{type(node).__name__} (it is snncc's own)", layer=name)

    # ---- netx import (the family's netx_in.py: NETX_TYPES, RESETS, from_netx) ------------------------------
    def netx_types(self) -> tuple[str, ...]:
        """The netx neuron ``type`` names this family imports (``snncc compile x.net``)."""
        part = self._part("netx_in")
        return tuple(getattr(part, "NETX_TYPES", ())) if part is not None else ()

    def from_netx(self, cfg: dict[str, Any], bias: Any, encoder: bool, layer: str) -> Any:
        """The integer node netx's own Lava network runs for a block's neuron fields ``cfg`` and integer ``bias``
        (``encoder``: the input block's neuron); UnsupportedLayerError naming ``layer`` for what it cannot hold."""
        return self._part("netx_in").from_netx(cfg, bias, encoder, layer)

    def netx_resets(self) -> bool:
        """Whether netx's processes for this family's neurons take a periodic reset (``reset_interval``)."""
        part = self._part("netx_in")
        return bool(getattr(part, "RESETS", True)) if part is not None else True

    def netx_neuron(self, node: Any, name: str) -> dict[str, Any]:
        """The netx neuron fields (``iDecay``, ``vDecay``, ``vThMant``, ``bias``) of integer layer ``name``, or
        UnsupportedLayerError when netx's CUBA neuron cannot express it."""
        raise UnsupportedLayerError(f"netx export needs netx's CUBA neurons; this layer is {type(node).__name__}",
                                    layer=name)
