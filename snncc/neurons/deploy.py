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

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedLayerError
from .arlif import ARLIF
from .klif import KLIF
from .lif import LIF
from .multilevel import NASN, MultiLevel

DEPLOYABLE = (LIF, KLIF, MultiLevel, ARLIF)


def deploy_exact(model: nn.Module, target: str = "loihi2", enable: bool = True) -> nn.Module:
    """Put ``model`` (in place) into deploy-exact mode for ``target``, or back to float mode; returns it."""
    if not enable:
        for m in model.modules():
            if isinstance(m, ARLIF):
                m.deploy_exact = False
            elif isinstance(m, DEPLOYABLE):
                m.deploy_params = None
        return model
    from .. import fixedpoint as fx
    from ..frontend import trace_module
    from ..frontend.torch_trace import layer_name
    from ..ir import QARLIF, QLIF, QMultiLevel
    from ..passes import Canonicalize, LowerNeurons, PassContext, PassManager, Quantize
    from ..target import load_target

    model.double()
    modules = {layer_name(qn, m): m for qn, m in model.named_modules() if qn}
    norm_linears = _fold_nasn_normalizations(model, modules, trace_module, UnsupportedLayerError)
    ctx = PassContext(target=load_target(target), keep={"lower-neurons"})
    q = PassManager([Canonicalize(), LowerNeurons(), Quantize()]).run(trace_module(model), ctx)
    lowered = ctx.snapshots["lower-neurons"]
    modules.update(norm_linears)
    with torch.no_grad():
        for name, node in q.nodes.items():
            if not isinstance(node, (QLIF, QMultiLevel, QARLIF)):
                continue
            mod = modules[name]
            scale = float(node.metadata["snncc.scale"])
            if isinstance(node, QARLIF):
                bias_v, gain = node.bias.astype(np.float64), float(fx.ARLIF_ONE)
                mod.deploy_exact = True
            else:
                bias_v = fx.bias_value(node.bias_mant, node.bias_exp).astype(np.float64)
                gain = (1 << fx.ACT_SHIFT) * scale * (mod.gain if isinstance(mod, KLIF) else 1.0)
                (mod.neuron if isinstance(mod, NASN) else mod).deploy_params = _params(node, gain)
            shift = node.input_shift - fx.ACT_SHIFT if isinstance(node, QARLIF) else 0
            linears = [modules[s] for s in q.predecessors(name)]
            for syn, lin in zip(q.predecessors(name), linears, strict=True):
                effective = q.nodes[syn].weight * 2.0 ** (q.nodes[syn].weight_exp + shift)  # weight units
                w_torch = lin.weight.detach().cpu().numpy()
                w_low = np.asarray(lowered.nodes[syn].weight, np.float64)
                ratio = np.divide(w_torch, w_low, out=np.zeros_like(w_torch), where=w_low != 0)
                lin.weight.copy_(torch.from_numpy(effective / scale * ratio))
                if lin.bias is not None:
                    lin.bias.zero_()
            with_bias = [lin for lin in linears if lin.bias is not None]
            if with_bias:
                with_bias[0].bias.copy_(torch.from_numpy(bias_v / gain))
            elif np.any(bias_v):
                raise UnsupportedLayerError("the deployed layer has a bias but no nn.Linear bias can carry it",
                                            layer=name)
    return model


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
