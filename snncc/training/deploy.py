"""Deploy-exact mode for a whole model: make the torch forward pass compute what the compiled network computes.

:func:`deploy_exact` compiles the model as it is now (the same frontend, canonicalize, lower-neurons and quantize
passes as ``snncc compile``), then

* snaps every ``nn.Linear`` onto the deployed grid in place: each weight becomes its integer mantissa times its
  exponent, converted back through the layer's scale and input factors (graded-input scale, a neuron's input gain
  or output scale), and each bias becomes the integer bias the neuron will add;
* puts every neuron module into its deploy-exact mode (``SpikingModule.enter_deploy_mode``: it then runs its
  family's integer step on the compiled layer's integers); a layer with a part its neurons apply first (an
  eval-mode normalization) first folds that part into the ``nn.Linear`` feeding it (its deployed form),

and converts the model to float64 (integer states are exact there). Run the model as usual: its spikes are then
bit-identical with the compiled network's on the reference simulator and on Lava (tested). Training in this mode
(straight-through gradients) moves the weights off the grid again: call :func:`deploy_exact` once more after
training, or every epoch, before compiling. ``deploy_exact(model, enable=False)`` returns to float mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedLayerError
from ..families.quantization import weight_units
from ..fixedpoint import NeuronFormat
from ..frontend import trace_module
from ..frontend.torch_trace import layer_name
from ..ir import IntegerNeuron, keys
from ..nn import SpikingModule
from ..passes import KeepGraph, PassContext, PassManager, default_pipeline
from ..target import load_target


@dataclass
class SynapseGrid:
    """The deployed grid of one torch weight: ``weight = mantissa * unit`` with ``lo <= mantissa <= hi``."""

    module: nn.Module  # the nn.Linear
    unit: np.ndarray  # (n_out, 1): what one mantissa step is worth, per output row
    lo: int
    hi: int
    calibrated: np.ndarray | None = None  # with calibration data: the calibrated weight in torch units (on the grid)


@dataclass
class LayerPlan:
    """One deployed neuron layer: its module, the compiled layer it reproduces, the weights feeding it and its
    bias."""

    module: SpikingModule
    node: Any  # the compiled integer layer
    gain: float  # float input -> the integer layer's voltage units
    neuron_format: NeuronFormat
    synapses: list[SynapseGrid] = field(default_factory=list)
    bias_module: nn.Module | None = None  # the nn.Linear whose bias carries the deployed bias
    bias: np.ndarray | None = None  # the deployed bias in torch units (bias_value / gain)
    bias_unit: np.ndarray | None = None  # per neuron: one bias mantissa step in torch units


def deploy_plan(model: nn.Module, target: str = "loihi2", calibration: np.ndarray | None = None,
                calibrate_method: str | None = None) -> list[LayerPlan]:
    """Compile ``model`` as it is now (frontend, canonicalize, balance-latency, lower-neurons, quantize) and read,
    per deployed neuron layer, the integer parameters and the grids of the weights feeding it.

    With ``calibration`` payloads the calibrate pass runs before quantize (``calibrate_method``, default
    ``search``): the grids are the calibrated ones and each :class:`SynapseGrid` carries the calibrated weights.

    Converts the model to float64 and folds what neuron modules apply before their neurons (a normalization) into
    their Linear (the deployed form); the weights themselves are not changed. Raises
    :class:`UnsupportedLayerError` naming the layer for what it cannot map back onto torch modules (convolutions,
    whose batch norms and pooling are folded by the compiler).
    """
    model.double()
    modules = {layer_name(qn, m): m for qn, m in model.named_modules() if qn}
    folded = _fold_pre_neuron_parts(model, modules)
    tgt = load_target(target)
    options = {} if calibration is None else {"calibrate.data": np.asarray(calibration),
                                              "calibrate.method": calibrate_method or "search"}
    pipeline = default_pipeline(options).passes
    passes = pipeline[: [p.name for p in pipeline].index("quantize") + 1]  # the compile's passes up to quantize
    lowered = KeepGraph(lambda p, _g: p.name == "lower-neurons")
    calibrated = KeepGraph(lambda p, _g: p.name == "calibrate")
    q = PassManager(passes, [lowered, calibrated]).run(trace_module(model), PassContext(target=tgt))
    modules.update(folded)
    sfmt, nfmt = tgt.synapse_format, tgt.neuron_format
    plans = []
    for name, node in q.nodes.items():
        if not isinstance(node, IntegerNeuron) or name not in modules:
            continue  # relays inserted by the compiler have no module: they copy their source exactly
        mod = modules[name]
        gain = (1 << nfmt.act_shift) * float(node.metadata[keys.SCALE]) * mod.deploy_gain()
        bias_v, resolution = node.bias_values().astype(np.float64), node.bias_resolution()
        into_current = node.input_bias()
        if into_current is not None:  # the bias enters the decaying current, as the torch Linear's bias does
            bias_v = bias_v + into_current * 2.0**nfmt.act_shift
            resolution = np.full(node.size, 2.0**nfmt.act_shift)
        plan = LayerPlan(module=mod, node=node, gain=gain, neuron_format=nfmt, bias=bias_v / gain,
                         bias_unit=resolution / gain)
        units = weight_units(q, name)
        for syn in q.predecessors(name):
            lin = modules.get(syn)
            if not isinstance(lin, nn.Linear):
                raise UnsupportedLayerError(
                    f"deploy-exact mode and QAT map dense layers back onto their nn.Linear; synapse '{syn}' is "
                    f"{type(lin).__name__ if lin is not None else 'a compiler-made synapse (pooling, shortcut)'}",
                    layer=name, hint="fine-tune convolutional models in float mode with weight noise instead")
            ratio = _row_ratio(lin.weight.detach().cpu().numpy(),
                               np.asarray(lowered.graph.nodes[syn].weight, np.float64), syn)
            unit = np.asarray(units[syn], np.float64).reshape(-1) * ratio  # one unit per output row
            start = None if calibrated.graph is None else calibrated.graph.nodes[syn].weight * ratio[:, None]
            plan.synapses.append(SynapseGrid(lin, unit[:, None], sfmt.weight_min, sfmt.weight_max, start))
        with_bias = [g.module for g in plan.synapses if g.module.bias is not None]
        if with_bias:
            plan.bias_module = with_bias[0]
        elif np.any(bias_v):
            raise UnsupportedLayerError("the deployed layer has a bias but no nn.Linear bias can carry it", layer=name)
        plans.append(plan)
    return plans


def deploy_exact(model: nn.Module, target: str = "loihi2", enable: bool = True) -> nn.Module:
    """Put ``model`` (in place) into deploy-exact mode for ``target``, or back to float mode; returns it."""
    if not enable:
        for m in model.modules():
            if isinstance(m, SpikingModule):
                m.leave_deploy_mode()
        return model
    plans = deploy_plan(model, target)
    with torch.no_grad():
        for plan in plans:
            set_integer_mode(plan)
            for grid in plan.synapses:
                grid.module.weight.copy_(snap(grid.module.weight, grid))
                if grid.module.bias is not None:
                    grid.module.bias.zero_()
            if plan.bias_module is not None:
                plan.bias_module.bias.copy_(torch.from_numpy(plan.bias))
    return model


def set_integer_mode(plan: LayerPlan) -> None:
    """Put the layer's module into its deploy-exact mode for the compiled layer."""
    plan.module.enter_deploy_mode(plan.node, plan.gain, plan.neuron_format)


def snap(weight: torch.Tensor, grid: SynapseGrid) -> torch.Tensor:
    """``weight`` rounded onto its deployed grid (mantissas clipped to the synapse format)."""
    unit = torch.from_numpy(grid.unit).to(weight)
    return torch.clamp(torch.round(weight / unit), grid.lo, grid.hi) * unit


def _row_ratio(w_torch: np.ndarray, w_low: np.ndarray, syn: str) -> np.ndarray:
    """Per output row, torch weight / compiled float weight (graded-input scale, a neuron's input gain...): one
    number per row, or the model cannot be mapped back."""
    if w_torch.shape != w_low.shape:
        raise UnsupportedLayerError(f"the compiled synapse has shape {w_low.shape}, its nn.Linear {w_torch.shape}",
                                    layer=syn)
    nz = w_low != 0
    ratio = np.ones(w_torch.shape[0])
    all_ratios = w_torch[nz] / w_low[nz]
    default = float(np.median(all_ratios)) if all_ratios.size else 1.0
    for i in range(w_torch.shape[0]):
        r = w_torch[i, nz[i]] / w_low[i, nz[i]]
        ratio[i] = float(np.median(r)) if r.size else default
        if r.size and not np.allclose(r, ratio[i], rtol=1e-6, atol=0.0):
            raise UnsupportedLayerError("the compiler's weights are not a per-row multiple of the torch weights",
                                        layer=syn)
    return ratio


def _fold_pre_neuron_parts(model: nn.Module, modules: dict[str, nn.Module]) -> dict[str, nn.Linear]:
    """Fold what each neuron module applies before its neurons (``FOLD_SUFFIX``: an eval-mode normalization) into
    the nn.Linear feeding it, in the torch model itself (``SpikingModule.fold_into``); returns {IR name of the merged
    synapse: that Linear}.

    This is the deployed form (canonicalize merges the same affine into the same Linear); it is not undone by
    ``deploy_exact(model, enable=False)``.
    """
    parts = {name: m for name, m in modules.items() if isinstance(m, SpikingModule) and m.FOLD_SUFFIX}
    if not parts:
        return {}
    graph = trace_module(model)
    out = {}
    for name, mod in parts.items():
        folded = f"{name}{mod.FOLD_SUFFIX}"
        preds = graph.predecessors(folded)
        lin = modules.get(preds[0]) if len(preds) == 1 else None
        if not isinstance(lin, nn.Linear) or len(graph.successors(preds[0])) != 1:
            raise UnsupportedLayerError(f"deploy-exact mode needs the {type(mod).__name__} fed by exactly one "
                                        "nn.Linear", layer=name)
        mod.fold_into(lin)
        out[folded] = lin
    return out
