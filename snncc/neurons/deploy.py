"""Deploy-exact mode for a whole model: make the torch forward pass compute what the compiled network computes.

:func:`deploy_exact` compiles the model as it is now (the same frontend, canonicalize, lower-neurons and quantize
passes as ``snncc compile``), then

* snaps every ``nn.Linear`` onto the deployed grid in place: each weight becomes its integer mantissa times its
  exponent, converted back through the layer's scale and input factors (graded-input scale, KLIF gain, multi-level
  output scale), and each bias becomes the integer bias the neuron will add;
* hands every neuron module its integer parameters (:class:`snncc.neurons.integer.DeployParams`), or switches
  :class:`ARLIF` to its Q12 ``deploy_exact`` mode; a :class:`NASN`'s eval-mode normalization is first folded into
  the ``nn.Linear`` feeding it (its deployed form),

and converts the model to float64 (integer states are exact there). Run the model as usual: its spikes are then
bit-identical with the compiled network's on the reference simulator and on Lava (tested). Training in this mode
(straight-through gradients) moves the weights off the grid again: call :func:`deploy_exact` once more after
training, or every epoch, before compiling. ``deploy_exact(model, enable=False)`` returns to float mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedLayerError
from .arlif import ARLIF
from .klif import KLIF
from .lif import LIF
from .multilevel import NASN, MultiLevel

DEPLOYABLE = (LIF, KLIF, MultiLevel, ARLIF)


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
    """One deployed neuron layer: its module, its integer parameters, the weights feeding it and its bias."""

    module: nn.Module
    params: dict | None  # DeployParams fields (None: an AR-LIF in Q12 deploy-exact mode)
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

    Converts the model to float64 and folds NASN normalizations into their Linear (the deployed form); the weights
    themselves are not changed. Raises :class:`UnsupportedLayerError` naming the layer for what it cannot map back
    onto torch modules (convolutions, whose batch norms and pooling are folded by the compiler).
    """
    from .. import fixedpoint as fx
    from ..frontend import trace_module
    from ..frontend.torch_trace import layer_name
    from ..ir import QARLIF, QLIF, QMultiLevel
    from ..passes import BalanceLatency, Calibrate, Canonicalize, LowerNeurons, PassContext, PassManager, Quantize
    from ..passes.quantize import weight_units
    from ..target import load_target

    model.double()
    modules = {layer_name(qn, m): m for qn, m in model.named_modules() if qn}
    norm_linears = _fold_nasn_normalizations(model, modules, trace_module, UnsupportedLayerError)
    tgt = load_target(target)
    passes = [Canonicalize(), BalanceLatency(), LowerNeurons(), Quantize()]
    options: dict = {}
    if calibration is not None:
        passes.insert(3, Calibrate())
        options = {"calibration": np.asarray(calibration), "calibrate_method": calibrate_method or "search"}
    ctx = PassContext(target=tgt, options=options, keep={"lower-neurons", "calibrate"})
    q = PassManager(passes).run(trace_module(model), ctx)
    lowered = ctx.snapshots["lower-neurons"]
    calibrated = ctx.snapshots.get("calibrate")
    modules.update(norm_linears)
    sfmt = tgt.synapse_format
    plans = []
    for name, node in q.nodes.items():
        if not isinstance(node, (QLIF, QMultiLevel, QARLIF)) or name not in modules:
            continue  # relays inserted by the compiler have no module: they copy their source exactly
        mod = modules[name]
        scale = float(node.metadata["snncc.scale"])
        if isinstance(node, QARLIF):
            bias_v, gain, params = node.bias.astype(np.float64), float(fx.ARLIF_ONE), None
            bias_step = np.ones_like(bias_v)
        else:
            bias_v = fx.bias_value(node.bias_mant, node.bias_exp).astype(np.float64)
            gain = (1 << fx.ACT_SHIFT) * scale * (mod.gain if isinstance(mod, KLIF) else 1.0)
            params = _params(node, gain)
            bias_step = np.exp2(node.bias_exp.astype(np.float64))
        plan = LayerPlan(module=mod, params=params, bias=bias_v / gain, bias_unit=bias_step / gain)
        units = weight_units(q, name)
        for syn in q.predecessors(name):
            lin = modules.get(syn)
            if not isinstance(lin, nn.Linear):
                raise UnsupportedLayerError(
                    f"deploy-exact mode and QAT map dense layers back onto their nn.Linear; synapse '{syn}' is "
                    f"{type(lin).__name__ if lin is not None else 'a compiler-made synapse (pooling, shortcut)'}",
                    layer=name, hint="fine-tune convolutional models in float mode with weight noise instead")
            ratio = _row_ratio(lin.weight.detach().cpu().numpy(), np.asarray(lowered.nodes[syn].weight, np.float64),
                               syn)
            unit = np.asarray(units[syn], np.float64).reshape(-1) * ratio  # one unit per output row
            start = None if calibrated is None else calibrated.nodes[syn].weight * ratio[:, None]
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
            if isinstance(m, ARLIF):
                m.deploy_exact = False
            elif isinstance(m, DEPLOYABLE):
                m.deploy_params = None
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
    """Hand the layer's module its integer parameters (an AR-LIF: its Q12 deploy-exact mode)."""
    mod = plan.module
    if isinstance(mod, ARLIF):
        mod.deploy_exact = True
    else:
        (mod.neuron if isinstance(mod, NASN) else mod).deploy_params = plan.params


def snap(weight: torch.Tensor, grid: SynapseGrid) -> torch.Tensor:
    """``weight`` rounded onto its deployed grid (mantissas clipped to the synapse format)."""
    unit = torch.from_numpy(grid.unit).to(weight)
    return torch.clamp(torch.round(weight / unit), grid.lo, grid.hi) * unit


def _row_ratio(w_torch: np.ndarray, w_low: np.ndarray, syn: str) -> np.ndarray:
    """Per output row, torch weight / compiled float weight (graded-input scale, KLIF gain...): one number per row,
    or the model cannot be mapped back."""
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


def _fold_nasn_normalizations(model: nn.Module, modules: dict, trace: object, error: type) -> dict:
    """Fold each NASN's eval-mode normalization into the nn.Linear feeding it, in the torch model itself, and make
    the normalization an exact identity; returns {IR name of the merged synapse: that Linear}.

    This is the deployed form (canonicalize merges the same affine into the same Linear); it is not undone by
    ``deploy_exact(model, enable=False)``.
    """
    nasn = {name: m for name, m in modules.items() if isinstance(m, NASN)}
    if not nasn:
        return {}
    graph = trace(model)
    out = {}
    with torch.no_grad():
        for name, mod in nasn.items():
            preds = graph.predecessors(f"{name}_norm")
            lin = modules.get(preds[0]) if len(preds) == 1 else None
            if not isinstance(lin, nn.Linear) or len(graph.successors(preds[0])) != 1:
                raise error("deploy-exact mode needs the NASN fed by exactly one nn.Linear", layer=name)
            scale, shift = (t.to(lin.weight.dtype) for t in mod.folded_affine())
            lin.weight.mul_(scale[:, None])
            if lin.bias is None:
                lin.bias = nn.Parameter(torch.zeros_like(scale))
            lin.bias.mul_(scale).add_(shift)
            bn = mod.norm
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # x / sqrt(var + eps) is then x, exactly
            if bn.weight is not None:
                bn.weight.fill_(1.0)
                bn.bias.zero_()
            out[f"{name}_norm"] = lin
    return out


def _params(node: object, gain: float) -> dict:
    from ..ir import QLIF

    if isinstance(node, QLIF):
        return {"gain": gain, "du": node.du, "dv": node.dv, "soft_reset": node.reset == "subtract", "vth": node.vth,
                "v_min": node.v_min}
    return {"gain": gain, "du": node.du, "dv": node.dv, "theta_exp": node.theta_exp, "offset": node.offset,
            "levels": node.levels}
