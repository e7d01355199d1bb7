"""Trace a torch model of torch.nn and snncc modules into an IR graph (torch.fx symbolic tracing, no data).

What maps to what:

* ``nn.Linear`` -> ``nir.Affine`` (``nir.Linear`` without bias)
* ``snncc.neurons.LIF`` / ``IF`` -> :class:`snncc.ir.LIFNeuron` (discrete time, reset mode explicit; NIR's
  continuous-time LIF cannot say "subtract"); ``KLIF`` -> ``KLIFNeuron``; ``ARLIF`` -> ``ARLIFNeuron``;
  ``MultiLevel``/``ASN``/``GroupNeuron`` -> ``MultiLevelNeuron``; ``NASN`` -> its folded eval-mode
  normalization (a diagonal ``nir.Affine``, merged into the preceding Linear by canonicalize) + ``MultiLevelNeuron``
* ``snncc.neurons.GradedInput`` -> graded input encoding recorded in the graph metadata
* ``nn.Flatten``, ``nn.Identity``, ``nn.Dropout`` (inference) -> nothing; ``a + b`` -> two edges into one node
  (NIR fan-in is summation)

Anything else raises :class:`UnsupportedLayerError` naming the layer. The graph's ``dt`` is one step: snncc
modules are discrete-time.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import nir
import numpy as np
import torch
from torch import fx, nn

from .. import neurons
from ..errors import GraphError, UnsupportedLayerError
from ..ir import ARLIFNeuron, Graph, InputEncoding, KLIFNeuron, LIFNeuron, MultiLevelNeuron

PASS_THROUGH = (nn.Flatten, nn.Identity, nn.Dropout)
ADD_FUNCTIONS = (operator.add, torch.add)
SUPPORTED_HINT = ("supported: nn.Linear, nn.Flatten/Identity/Dropout, snncc.neurons LIF/IF/KLIF/ARLIF/MultiLevel/ASN/"
                  "NASN/GroupNeuron/GradedInput, and '+'")


class _Tracer(fx.Tracer):
    """Keeps snncc's stateful modules (and every torch.nn leaf) opaque."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, neurons.MODULE_TYPES) or super().is_leaf_module(m, qualname)


@dataclass
class _Value:
    """An fx value during the walk: the IR nodes whose summed output it is, and its shape (no batch)."""

    sources: list[str]
    shape: tuple[int, ...] | None
    is_input: bool = False


@dataclass
class _Builder:
    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    input_shape: tuple[int, ...] | None = None
    encoding: InputEncoding = field(default_factory=InputEncoding)

    def add(self, name: str, node: object, inputs: _Value) -> None:
        self.nodes[name] = node
        for src in inputs.sources:
            self.edges.append((src, name))


def trace_module(module: nn.Module, timesteps: int | None = None) -> Graph:
    """Trace ``module`` into an IR graph with explicit dt (one step), reset modes and input encoding."""
    try:
        fx_graph = _Tracer().trace(module)
    except Exception as exc:  # fx raises many kinds of errors on untraceable Python
        raise UnsupportedLayerError(f"the model cannot be traced symbolically: {exc}",
                                    hint="use a torch.nn.Sequential or a forward() without data-dependent control "
                                         "flow") from None
    b = _Builder()
    values: dict[str, _Value] = {}
    placeholders = [n for n in fx_graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise UnsupportedLayerError(f"forward() must take exactly one input tensor, it takes {len(placeholders)}")
    modules = dict(module.named_modules())
    for node in fx_graph.nodes:
        if node.op == "placeholder":
            values[node.name] = _Value(["input"], None, is_input=True)
        elif node.op == "call_module":
            values[node.name] = _module(b, node, modules[node.target], values)
        elif node.op in ("call_function", "call_method"):
            values[node.name] = _function(node, values)
        elif node.op == "output":
            arg = node.args[0]
            if not isinstance(arg, fx.Node):
                raise UnsupportedLayerError("forward() must return a single tensor")
            out = values[arg.name]
            if out.shape is None:
                raise GraphError("the model output does not pass through any layer")
            b.add("output", nir.Output(output_type={"output": np.array(out.shape)}), out)
        else:
            raise UnsupportedLayerError(f"unsupported fx operation '{node.op}' ({node.target})", hint=SUPPORTED_HINT)
    if b.input_shape is None:
        raise GraphError("the input size cannot be inferred: the model has no nn.Linear after its input")
    b.nodes = {"input": nir.Input(input_type={"input": np.array(b.input_shape)}), **b.nodes}
    metadata = {"source": "torch", "dt": 1.0, "time_unit": "step", "input": b.encoding.to_dict()}
    if timesteps is not None:
        metadata["timesteps"] = int(timesteps)
    graph = Graph(nodes=b.nodes, edges=b.edges, metadata=metadata)
    graph.validate()
    return graph


def layer_name(qualname: str, mod: nn.Module) -> str:
    name = qualname.replace(".", "_")
    return name if name and not name[0].isdigit() else f"{type(mod).__name__.lower()}_{name}"


def _module(b: _Builder, node: fx.Node, mod: nn.Module, values: dict[str, _Value]) -> _Value:
    if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
        raise UnsupportedLayerError("modules must be called with one tensor argument", layer=node.target)
    x = values[node.args[0].name]
    name = layer_name(node.target, mod)
    source = f"{node.target} ({type(mod).__module__}.{type(mod).__name__})"
    if isinstance(mod, neurons.GradedInput):
        if not x.is_input:
            raise UnsupportedLayerError("GradedInput must be the first module, applied to the model input",
                                        layer=name)
        b.encoding = InputEncoding(kind="graded", scale=1.0 / mod.levels, max_value=mod.levels)
        return _Value(x.sources, x.shape, is_input=True)
    if isinstance(mod, PASS_THROUGH):
        shape = (int(np.prod(x.shape)),) if isinstance(mod, nn.Flatten) and x.shape else x.shape
        return _Value(x.sources, shape, x.is_input)
    if isinstance(mod, nn.Linear):
        if x.is_input:
            b.input_shape = (mod.in_features,)
        elif x.shape != (mod.in_features,):
            raise GraphError(f"takes {mod.in_features} features but its input has shape {x.shape}", layer=name)
        w = mod.weight.detach().double().numpy()
        node_ir = (nir.Affine(weight=w, bias=mod.bias.detach().double().numpy()) if mod.bias is not None
                   else nir.Linear(weight=w))
        node_ir.metadata = {"snncc.source": source}
        b.add(name, node_ir, x)
        return _Value([name], (mod.out_features,))
    if isinstance(mod, NEURON_MODULES):
        if x.is_input or x.shape is None or len(x.shape) != 1:
            raise UnsupportedLayerError("a neuron layer must follow a synapse layer (nn.Linear)", layer=name)
        n = x.shape[0]
        if isinstance(mod, neurons.NASN):
            scale, shift = (t.double().numpy() for t in mod.folded_affine())
            norm = f"{name}_norm"
            b.add(norm, nir.Affine(weight=np.diag(scale), bias=shift,
                                   metadata={"snncc.source": f"{source}: eval-mode normalization (folded)"}), x)
            x = _Value([norm], x.shape)
        node_ir = _neuron_node(mod, n)
        node_ir.metadata = {"snncc.source": source}
        if getattr(node_ir, "deploy_exact", False):
            node_ir.metadata["snncc.deploy_exact"] = True
        b.add(name, node_ir, x)
        return _Value([name], x.shape)
    if isinstance(mod, neurons.QCFS):
        raise UnsupportedLayerError("QCFS is an ANN activation", layer=name,
                                    hint="convert the trained ANN with snncc.neurons.convert_to_snn() first")
    raise UnsupportedLayerError(f"{type(mod).__module__}.{type(mod).__name__} is not supported", layer=name,
                                hint=SUPPORTED_HINT)


NEURON_MODULES = (neurons.LIF, neurons.KLIF, neurons.ARLIF, neurons.MultiLevel, neurons.NASN)


def _neuron_node(mod: nn.Module, n: int) -> object:
    """The IR node of one snncc neuron module (its parameters as the forward pass uses them)."""
    thr = float(mod.threshold.detach())
    if isinstance(mod, neurons.KLIF):
        return KLIFNeuron(threshold=np.full(n, thr), bias=np.zeros(n), k=float(mod.effective_k().detach()),
                          tau=mod.tau, decay_input=mod.decay_input, reset=mod.reset)
    if isinstance(mod, neurons.ARLIF):
        node = ARLIFNeuron(decay_v=np.full(n, float(mod.decay.detach())), threshold=np.full(n, thr),
                           bias=np.zeros(n), amp=mod.amp, gate=mod.gate)
        node.deploy_exact = bool(mod.deploy_exact)  # trained on the integer program: its lowering is exact
        return node
    if isinstance(mod, (neurons.MultiLevel, neurons.NASN)):
        theta = float(mod.threshold.detach().clamp(min=neurons.multilevel.THETA_MIN))
        return MultiLevelNeuron(decay_v=np.full(n, mod.decay), decay_i=np.zeros(n), threshold=np.full(n, theta),
                                bias=np.zeros(n), offset=np.full(n, mod.offset), out_scale=np.full(n, mod.out_scale),
                                levels=mod.levels)
    return LIFNeuron(decay_v=np.full(n, float(mod.beta.detach().clamp(0.0, 1.0))),
                     decay_i=np.full(n, float(mod.current_decay.detach())), threshold=np.full(n, thr),
                     bias=np.zeros(n), reset=mod.reset)


def _function(node: fx.Node, values: dict[str, _Value]) -> _Value:
    is_add = (node.op == "call_function" and node.target in ADD_FUNCTIONS) or (
        node.op == "call_method" and node.target == "add")
    what = getattr(node.target, "__name__", str(node.target))
    if not is_add or len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
        raise UnsupportedLayerError(f"the operation '{what}' is not supported", layer=node.name, hint=SUPPORTED_HINT)
    a, c = (values[arg.name] for arg in node.args)
    if a.shape != c.shape:
        raise GraphError(f"adds tensors of shapes {a.shape} and {c.shape}", layer=node.name)
    if a.is_input or c.is_input:
        raise UnsupportedLayerError("adding the raw input is not supported", layer=node.name)
    return _Value(a.sources + [s for s in c.sources if s not in a.sources], a.shape)
