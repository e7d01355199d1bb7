"""Trace a torch model of torch.nn and snncc modules into an IR graph (torch.fx symbolic tracing, no data).

What maps to what:

* ``nn.Linear`` -> ``nir.Affine`` (``nir.Linear`` without bias)
* a neuron module of a family (``snncc.neurons``) -> the IR nodes its tracing rule gives
  (``SpikingModule.ir_nodes``: a discrete-time float node with explicit reset semantics, which NIR's
  continuous-time neurons cannot state, sometimes after a folded part such as an eval-mode normalization)
* ``snncc.neurons.GradedInput`` -> graded input encoding recorded in the graph metadata
* ``nn.Conv2d`` (zero padding) -> ``nir.Conv2d``; ``nn.BatchNorm1d/2d`` (eval statistics) -> folded per channel
  into the Linear/Conv2d it follows; ``nn.AvgPool2d`` / ``nn.AdaptiveAvgPool2d`` (to a size that divides the
  input) -> ``nir.AvgPool2d`` with its input shape in ``metadata['snncc.input_shape']``; ``nn.MaxPool2d`` is refused
  with a hint (a max of spikes has no synapse form)
* ``nn.Flatten``, ``nn.Unflatten``, ``nn.Identity``, ``nn.Dropout`` (inference) -> nothing (feature maps are flat
  (C, H, W) vectors in the IR); ``a + b`` -> two edges into one node (NIR fan-in is summation)

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

from ..errors import GraphError, SnnccError, UnsupportedLayerError, name_layer
from ..families import REGISTRY
from ..ir import FloatNeuron, Graph, InputEncoding, keys
from ..nn import GradedInput, Recurrent, SelfConnection, SpikingModule

PASS_THROUGH = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)
ADD_FUNCTIONS = (operator.add, torch.add)
LEAVES = (*REGISTRY.torch_modules(), GradedInput, Recurrent)  # kept opaque: traced by their own rules
SUPPORTED_HINT = ("supported: nn.Linear, nn.Conv2d, nn.BatchNorm1d/2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, "
                  "nn.Flatten/Unflatten/Identity/Dropout, snncc.neurons "
                  + "/".join(c.__name__ for c in LEAVES) + ", and '+'")


class _Tracer(fx.Tracer):
    """Keeps snncc's neuron and encoding modules (and every torch.nn leaf) opaque."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, LEAVES) or super().is_leaf_module(m, qualname)


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
    out = _walk(b, fx_graph, dict(module.named_modules()), _Value(["input"], None, is_input=True), "")
    if out.shape is None:
        raise GraphError("the model output does not pass through any layer")
    b.add("output", nir.Output(output_type={"output": np.array([int(np.prod(out.shape))])}), out)
    if b.input_shape is None:
        raise GraphError("the input size cannot be inferred: the model has no nn.Linear or nn.Conv2d after its input",
                         hint="start the model with nn.Unflatten(1, (C, H, W)) before a convolution")
    b.nodes = {"input": nir.Input(input_type={"input": np.array(b.input_shape)}), **b.nodes}
    metadata = {keys.SOURCE_KIND: "torch", keys.DT: 1.0, keys.TIME_UNIT: "step", keys.INPUT: b.encoding.to_dict()}
    if timesteps is not None:
        metadata[keys.TIMESTEPS] = int(timesteps)
    graph = Graph(nodes=b.nodes, edges=b.edges, metadata=metadata)
    graph.validate()
    return graph


def _walk(b: _Builder, fx_graph: fx.Graph, modules: dict[str, nn.Module], start: _Value, prefix: str) -> _Value:
    """Add the IR nodes of one traced forward() (the model's, or a recurrent block's body, whose modules are named
    under ``prefix``) to ``b``; returns the value it outputs."""
    values: dict[str, _Value] = {}
    placeholders = [n for n in fx_graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise UnsupportedLayerError(f"forward() must take exactly one input tensor, it takes {len(placeholders)}",
                                    layer=prefix or None)
    for node in fx_graph.nodes:
        if node.op == "placeholder":
            values[node.name] = start
        elif node.op == "call_module":
            if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
                raise UnsupportedLayerError("modules must be called with one tensor argument",
                                            layer=prefix + node.target)
            values[node.name] = _module(b, prefix + node.target, modules[node.target], values[node.args[0].name])
        elif node.op in ("call_function", "call_method"):
            values[node.name] = _function(node, values)
        elif node.op == "output":
            arg = node.args[0]
            if not isinstance(arg, fx.Node):
                raise UnsupportedLayerError("forward() must return a single tensor", layer=prefix or None)
            return values[arg.name]
        else:
            raise UnsupportedLayerError(f"unsupported fx operation '{node.op}' ({node.target})", hint=SUPPORTED_HINT)
    raise UnsupportedLayerError("forward() returns nothing", layer=prefix or None)


def check_tensors(mod: nn.Module, name: str) -> None:
    """Every parameter and buffer of one module real and finite: a chip stores neither NaN, inf nor complex
    values, and they would otherwise surface as nonsense integers passes later (a NaN weight as mantissa -2**63)."""
    for what, tensor in [*mod.named_parameters(recurse=False), *mod.named_buffers(recurse=False)]:
        if tensor.is_complex():
            raise GraphError(f"{what} holds complex values ({tensor.dtype}); a chip takes real numbers", layer=name)
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor.detach())).sum())
            if bad:
                raise GraphError(f"{what} holds {bad} values that are not finite (NaN or inf)", layer=name)


def layer_name(qualname: str, mod: nn.Module) -> str:
    name = qualname.replace(".", "_")
    return name if name and not name[0].isdigit() else f"{type(mod).__name__.lower()}_{name}"


def _module(b: _Builder, qualname: str, mod: nn.Module, x: _Value) -> _Value:
    """The IR nodes of the module ``qualname`` applied to ``x``."""
    name = layer_name(qualname, mod)
    source = f"{qualname} ({type(mod).__module__}.{type(mod).__name__})"
    check_tensors(mod, name)
    if isinstance(mod, Recurrent):
        return _recurrent(b, qualname, mod, x)
    if isinstance(mod, GradedInput):
        if not x.is_input:
            raise UnsupportedLayerError("GradedInput must be the first module, applied to the model input",
                                        layer=name)
        levels = getattr(mod, "levels", None)
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= GradedInput.MAX_LEVELS:
            raise GraphError(f"levels must be an integer in [1, {GradedInput.MAX_LEVELS}], got {levels!r}",
                             layer=name)
        b.encoding = InputEncoding(kind="graded", scale=1.0 / mod.levels, max_value=mod.levels)
        return _Value(x.sources, x.shape, is_input=True)
    if isinstance(mod, PASS_THROUGH):
        return _reshape(b, mod, x, name)
    if isinstance(mod, nn.Conv2d):
        return _conv(b, mod, x, name, source)
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _fold_batchnorm(b, mod, x, name)
    if isinstance(mod, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return _avgpool(b, mod, x, name, source)
    if isinstance(mod, nn.MaxPool2d):
        raise UnsupportedLayerError("max pooling has no synapse form on a neuromorphic core", layer=name,
                                    hint="train with nn.AvgPool2d instead (average pooling maps onto synapses)")
    if isinstance(mod, nn.Linear):
        if mod.in_features < 1 or mod.out_features < 1:
            raise GraphError(f"has {mod.in_features} inputs and {mod.out_features} outputs; a layer needs at least "
                             "one of each", layer=name)
        if x.is_input:
            b.input_shape = (mod.in_features,)
        elif x.shape != (mod.in_features,):
            raise GraphError(f"takes {mod.in_features} features but its input has shape {x.shape}", layer=name)
        w = (mod.masked_weight() if isinstance(mod, SelfConnection) else mod.weight.detach()).double().numpy()
        node_ir = (nir.Affine(weight=w, bias=mod.bias.detach().double().numpy()) if mod.bias is not None
                   else nir.Linear(weight=w))
        node_ir.metadata = {keys.SOURCE: source}
        b.add(name, node_ir, x)
        return _Value([name], (mod.out_features,))
    if REGISTRY.module_family(mod) is not None:
        return _neuron(b, mod, x, name, source)
    raise UnsupportedLayerError(f"{type(mod).__module__}.{type(mod).__name__} is not supported", layer=name,
                                hint=SUPPORTED_HINT)


def _recurrent(b: _Builder, qualname: str, mod: Recurrent, x: _Value) -> _Value:
    """A recurrent block: its body traced with the feedback synapse as one more input of the body's first neuron
    layer, and that synapse fed by the body's last neuron layer, marked recurrent (it delivers the spikes of
    ``mod.delay`` steps ago)."""
    name = layer_name(qualname, mod)
    if x.is_input or x.shape is None:
        raise UnsupportedLayerError("a recurrent block must follow a synapse layer (nn.Linear)", layer=name)
    if x.shape != (mod.in_features,):
        raise GraphError(f"takes {mod.in_features} features (in_features) but its input has shape {x.shape}",
                         layer=name)
    fb_qualname = f"{qualname}.feedback"
    fb = layer_name(fb_qualname, mod.feedback)
    entry = _Value([*x.sources, fb], x.shape)
    if isinstance(mod.body, LEAVES):
        out = _module(b, f"{qualname}.body", mod.body, entry)
    else:
        try:
            body_graph = _Tracer().trace(mod.body)
        except Exception as exc:  # fx raises many kinds of errors on untraceable Python
            raise UnsupportedLayerError(f"the recurrent block's body cannot be traced symbolically: {exc}",
                                        layer=name) from None
        out = _walk(b, body_graph, dict(mod.body.named_modules()), entry, f"{qualname}.body.")
    fed = [dst for src, dst in b.edges if src == fb]
    if not fed or not all(isinstance(b.nodes[d], FloatNeuron) for d in fed):
        what = f"'{fed[0]}', a {type(b.nodes[fed[0]]).__name__}" if fed else "nothing"
        raise UnsupportedLayerError(f"the feedback would enter {what}: a recurrent block's body must start with a "
                                    "neuron layer that takes its synaptic input as it is (the feedback joins it)",
                                    layer=name, hint="a layer that normalizes its input first cannot close a loop; "
                                                     "use the family's form without the normalization")
    if len(out.sources) != 1 or not isinstance(b.nodes.get(out.sources[0]), FloatNeuron):
        raise UnsupportedLayerError("a recurrent block's body must end with a neuron layer (its spikes are fed "
                                    "back)", layer=name)
    if out.shape != (mod.out_features,):
        raise GraphError(f"the body gives shape {out.shape}, the feedback reads {mod.out_features} features "
                         "(out_features)", layer=name)
    check_tensors(mod.feedback, fb)
    _module(b, fb_qualname, mod.feedback, _Value(out.sources, out.shape))
    b.nodes[fb].metadata.update({keys.RECURRENT: True, keys.FEEDBACK_DELAY: mod.delay,
                                 keys.SOURCE: f"{fb_qualname} (feedback of {qualname}, {mod.delay} step"
                                              f"{'s' if mod.delay > 1 else ''} late)"})
    return out


def _neuron(b: _Builder, mod: nn.Module, x: _Value, name: str, source: str) -> _Value:
    """A family's module: the IR nodes of its tracing rule, in a chain, the last one named after the module."""
    if isinstance(mod, SpikingModule) and (x.is_input or x.shape is None):
        raise UnsupportedLayerError("a neuron layer must follow a synapse layer (nn.Linear, nn.Conv2d)", layer=name)
    shaped = [(n, p) for n, p in mod.named_parameters(recurse=False) if p.numel() != 1]
    if shaped:
        n, p = shaped[0]
        raise GraphError(f"{n} holds {p.numel()} values; snncc's neuron modules take one scalar per layer",
                         layer=name)
    try:
        nodes = mod.ir_nodes(int(np.prod(x.shape)) if x.shape else 0)
    except SnnccError as exc:
        raise name_layer(exc, name) from None
    except (ValueError, TypeError) as exc:  # the family's node refused a value (a reset mode, a level count...)
        raise GraphError(str(exc), layer=name) from None
    for suffix, node in nodes:
        note = node.metadata.pop(keys.SOURCE, None)
        node.metadata = {keys.SOURCE: f"{source}: {note}" if note else source, **node.metadata}
        b.add(f"{name}{suffix}", node, x)
        x = _Value([f"{name}{suffix}"], x.shape)
    return x


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
    twice = [s for s in c.sources if s in a.sources]
    if twice:  # graph edges are a set: x + x would silently become x
        raise UnsupportedLayerError(f"adds the output of '{twice[0]}' to a sum that already contains it (as in x + x)",
                                    layer=node.name, hint="add each layer's output once and scale the weights of the "
                                                          "layer that reads the sum instead")
    return _Value(a.sources + c.sources, a.shape)


def _reshape(b: _Builder, mod: nn.Module, x: _Value, name: str) -> _Value:
    """Flatten/Unflatten only change how later layers read the flat (C, H, W) vector."""
    if isinstance(mod, nn.Unflatten):
        shape = tuple(int(v) for v in mod.unflattened_size)
        if mod.dim != 1:
            raise UnsupportedLayerError("only nn.Unflatten(1, shape) (the feature dimension) is supported", layer=name)
        if x.is_input:
            b.input_shape = (int(np.prod(shape)),)
        elif x.shape is not None and int(np.prod(x.shape)) != int(np.prod(shape)):
            raise GraphError(f"unflattens {x.shape} into {shape}", layer=name)
        return _Value(x.sources, shape, x.is_input)
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise UnsupportedLayerError("only nn.Flatten(1, -1) is supported", layer=name)
        return _Value(x.sources, (int(np.prod(x.shape)),) if x.shape else None, x.is_input)
    return _Value(x.sources, x.shape, x.is_input)


def _conv(b: _Builder, mod: nn.Conv2d, x: _Value, name: str, source: str) -> _Value:
    from ..conv import ConvGeometry, pair

    if x.shape is None or len(x.shape) != 3:
        raise UnsupportedLayerError(f"a convolution needs a (C, H, W) input, got shape {x.shape}", layer=name,
                                    hint="reshape flat inputs with nn.Unflatten(1, (C, H, W))")
    if mod.padding_mode != "zeros" or isinstance(mod.padding, str) and mod.padding != "valid":
        raise UnsupportedLayerError(f"padding {mod.padding!r} / mode {mod.padding_mode!r} is not supported",
                                    layer=name, hint="use integer zero padding")
    if x.shape[0] != mod.in_channels:
        raise GraphError(f"takes {mod.in_channels} channels but its input has shape {x.shape}", layer=name)
    padding = (0, 0) if isinstance(mod.padding, str) else pair(mod.padding)
    try:
        geom = ConvGeometry(tuple(x.shape), mod.out_channels, pair(mod.kernel_size), pair(mod.stride), padding,
                            pair(mod.dilation), mod.groups)
    except ValueError as exc:
        raise GraphError(f"convolution on a {x.shape} input: {exc}", layer=name) from None
    if x.is_input:
        b.input_shape = (geom.in_size,)
    w = mod.weight.detach().double().numpy()
    bias = mod.bias.detach().double().numpy() if mod.bias is not None else np.zeros(mod.out_channels)
    node = nir.Conv2d(input_shape=geom.in_shape[1:], weight=w, stride=geom.stride, padding=geom.padding,
                      dilation=geom.dilation, groups=geom.groups, bias=bias)
    node.metadata = {keys.SOURCE: source}
    b.add(name, node, x)
    return _Value([name], geom.out_shape)


def _fold_batchnorm(b: _Builder, mod: nn.Module, x: _Value, name: str) -> _Value:
    """Fold eval-mode batch norm into the synapse it follows: per output channel ``w *= g``, ``b = (b - mean) g +
    beta`` with ``g = gamma / sqrt(var + eps)``."""
    src = x.sources[0] if len(x.sources) == 1 else None
    node = b.nodes.get(src) if src else None
    consumers = [e for e in b.edges if e[0] == src]
    if not isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)) or consumers:
        raise UnsupportedLayerError("batch norm must directly follow an nn.Conv2d or nn.Linear (it is folded into "
                                    "its weights)", layer=name)
    if mod.running_mean is None or mod.running_var is None:
        raise UnsupportedLayerError("batch norm without running statistics cannot be folded", layer=name,
                                    hint="use track_running_stats=True")
    channels = np.asarray(node.weight).shape[0]
    if mod.num_features != channels:
        raise GraphError(f"normalises {mod.num_features} features but '{src}' gives {channels}", layer=name)
    if bool((mod.running_var < 0).any()):
        raise GraphError("running_var holds negative variances", layer=name)
    gain = (mod.weight.detach().double().numpy() if mod.weight is not None else 1.0) / np.sqrt(
        mod.running_var.detach().double().numpy() + mod.eps)
    shift = mod.bias.detach().double().numpy() if mod.bias is not None else 0.0
    mean = mod.running_mean.detach().double().numpy()
    w = np.asarray(node.weight, np.float64)
    bias = np.asarray(getattr(node, "bias", 0.0), np.float64) * np.ones(w.shape[0])
    w = w * gain.reshape((-1,) + (1,) * (w.ndim - 1))
    bias = (bias - mean) * gain + shift
    meta = {**node.metadata, keys.BATCHNORM: name}
    if isinstance(node, nir.Conv2d):
        b.nodes[src] = nir.Conv2d(input_shape=node.input_shape, weight=w, stride=node.stride, padding=node.padding,
                                  dilation=node.dilation, groups=node.groups, bias=bias, metadata=meta)
    else:
        b.nodes[src] = nir.Affine(weight=w, bias=bias, metadata=meta)
    return x


def _avgpool(b: _Builder, mod: nn.Module, x: _Value, name: str, source: str) -> _Value:
    from ..conv import pair

    if x.shape is None or len(x.shape) != 3 or x.is_input:
        raise UnsupportedLayerError(f"average pooling needs a (C, H, W) feature map of spikes, got {x.shape}",
                                    layer=name)
    c, h, w = x.shape
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        oy, ox = pair(tuple(v if v is not None else d for v, d in zip(pair_or_none(mod.output_size), (h, w),
                                                                        strict=True)))
        if h % oy or w % ox:
            raise UnsupportedLayerError(f"adaptive pooling {h}x{w} -> {oy}x{ox} is not a uniform pooling",
                                        layer=name, hint="choose an output size that divides the input size")
        kernel, stride, padding = (h // oy, w // ox), (h // oy, w // ox), (0, 0)
    else:
        if mod.ceil_mode or (not mod.count_include_pad and mod.padding) or mod.divisor_override:
            raise UnsupportedLayerError("ceil_mode, count_include_pad=False with padding, and divisor_override "
                                        "are not supported", layer=name)
        kernel = pair(mod.kernel_size)
        stride = pair(mod.stride if mod.stride is not None else mod.kernel_size)
        padding = pair(mod.padding)
    out = (c, *((n + 2 * p - k) // st + 1 for n, p, k, st in zip((h, w), padding, kernel, stride, strict=True)))
    node = nir.AvgPool2d(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding),
                         metadata={keys.SOURCE: source, keys.INPUT_SHAPE: [c, h, w]})
    b.add(name, node, x)
    return _Value([name], tuple(int(v) for v in out))


def pair_or_none(value: object) -> tuple:
    """An adaptive pooling size as a pair (None keeps that dimension)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
