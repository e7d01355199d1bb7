"""Quantization-aware training: fine-tune a model through the exact integer arithmetic of its deployment.

:class:`QAT` keeps the float weights as masters and lets the forward pass see what the compiled network computes:

* every neuron layer runs its deployed integer step (deploy-exact mode, its family's integer rule: 12-bit
  decays truncated toward zero, 24-bit saturation, ``v > vth << 6``, the graded floor...);
* inside :meth:`QAT.fake_quant` (or through :meth:`QAT.quantize_weights`), every ``nn.Linear`` feeding a neuron
  layer holds its deployed value, ``mantissa * unit`` with the mantissa clipped to the target's weight format, and
  its bias the deployed bias; the gradient of that forward pass then updates the float masters when they are put
  back (a straight-through estimator).

The grids are the compiler's own (the same passes as ``snncc compile``, read by
:func:`snncc.training.deploy.deploy_plan`) and follow the masters: the scale of a layer depends on its largest
weight, so :meth:`QAT.refresh` recomputes them every ``refresh_every`` passes, after clamping the masters to the
range of their grids (a refresh finds the same grid or a finer one, never a coarser one). Fine-tuning moves weights
and biases; the neuron parameters (thresholds, decays...) are frozen until :meth:`QAT.finalize`, which snaps the
masters onto the grid: compiled without ``--calibrate`` (its weights already lie on the grid), the model then runs on
the chip exactly as its torch forward pass does, spike for spike.

Typical loop (create the optimizer after ``QAT(model)``, which converts the model to float64)::

    qat = QAT(model, "loihi2")
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    for x, y in batches:
        with qat.fake_quant():
            loss = loss_fn(run(model, x), y)
            opt.zero_grad()
            loss.backward()
        opt.step()                      # on the float masters
    qat.finalize()                      # then torch.save(model, ...) and snncc compile

``QAT(model, target, calibration=payloads)`` starts from the calibrated post-training quantization (the masters
are set to the weights ``snncc compile --calibrate`` would deploy) instead of the max rule.

Dense models only (every snncc neuron family); convolutional models raise a named error (their batch norms and
pooling are folded by the compiler and cannot be mapped back onto the torch modules yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from .deploy import LayerPlan, deploy_exact, deploy_plan, set_integer_mode, snap

Saved = list[tuple[torch.Tensor, torch.Tensor]]


class QAT:
    """Quantization-aware fine-tuning of ``model`` (in place) for ``target``'s exact integer formats."""

    def __init__(self, model: nn.Module, target: str = "loihi2", refresh_every: int = 20,
                 calibration: np.ndarray | None = None, calibrate_method: str = "search") -> None:
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be at least 1, got {refresh_every}")
        self.model = model
        self.target = target
        self.refresh_every = int(refresh_every)
        self.plans: list[LayerPlan] = []
        self._passes = 0
        if calibration is not None:
            self._start_from_calibration(calibration, calibrate_method)
        self.refresh()
        self._frozen = self._freeze_neuron_parameters()

    def _freeze_neuron_parameters(self) -> list[nn.Parameter]:
        """Fine-tuning moves the weights and biases; thresholds, decays and the other neuron parameters stay as
        deployed (``requires_grad`` off until :meth:`finalize`). A graded layer's weight grid is a power of
        two of its threshold, so a threshold the optimizer nudged by 1e-6 across that boundary halved the layer's
        resolution at the next refresh (a 4-bit ASN network: held-out KL from float 0.003 -> 4.0 after one epoch)."""
        tuned = {id(t) for plan in self.plans for g in plan.synapses for t in (g.module.weight, g.module.bias)}
        frozen = [p for p in self.model.parameters() if p.requires_grad and id(p) not in tuned]
        for p in frozen:
            p.requires_grad_(False)
        return frozen

    def _start_from_calibration(self, calibration: np.ndarray, method: str) -> None:
        """Set the masters to the calibrated weights (``snncc compile --calibrate``: clipped, error-minimising
        rounding), so fine-tuning starts from the best post-training quantization instead of the max rule.

        The max rule of every later refresh must find that grid again: it maps the largest ``|weight|`` onto
        ``+hi``, so a calibrated mantissa at ``lo = -(hi + 1)`` would coarsen the grid by ``(hi + 1) / hi``. Those
        mantissas start at ``-hi`` instead (the only difference from the calibrated deployment); where no weight
        reaches the clip at all, the refresh finds a finer grid."""
        with torch.no_grad():
            for plan in deploy_plan(self.model, self.target, calibration, method):
                for grid in plan.synapses:
                    w = grid.module.weight
                    w.copy_(snap(torch.from_numpy(grid.calibrated).to(w), replace(grid, lo=-grid.hi)))

    def refresh(self) -> None:
        """Recompute every layer's grid and integer parameters from the current float masters (first clamped to
        the range of the grids they had, :meth:`clamp_masters`)."""
        self.clamp_masters()
        self.plans = deploy_plan(self.model, self.target)
        for plan in self.plans:
            set_integer_mode(plan)
        self._passes = 0

    def clamp_masters(self) -> None:
        """Keep every master weight within ``+-hi`` mantissas of its current grid, so a refresh can only find the
        same grid or a finer one. Without this, a largest weight that the optimizer nudges past the top of the grid
        by 1e-6 makes the max rule coarsen the whole layer; where grids are powers of two (graded layers)
        that is a factor of 2, which at 4 bits ruined the network after one epoch (held-out KL
        from float 0.003 -> 4.0 at any learning rate)."""
        with torch.no_grad():
            for plan in self.plans:
                for grid in plan.synapses:
                    w = grid.module.weight
                    bound = torch.from_numpy(grid.unit).to(w) * grid.hi
                    w.copy_(torch.minimum(torch.maximum(w, -bound), bound))

    def quantize_weights(self) -> Saved:
        """Replace the weights and biases by their deployed values; returns ``(parameter, master value)`` pairs for
        :func:`restore` (call it after ``backward`` and before the optimizer step)."""
        if self._passes >= self.refresh_every:
            self.refresh()
        self._passes += 1
        saved: Saved = []
        with torch.no_grad():
            for plan in self.plans:
                for grid in plan.synapses:
                    w = grid.module.weight
                    saved.append((w, w.detach().clone()))
                    w.copy_(snap(w, grid))
                biases = [g.module.bias for g in plan.synapses if g.module.bias is not None]
                if not biases:
                    continue
                total = sum(b.detach().clone() for b in biases)  # the neuron adds the sum of its synapses' biases
                unit = torch.from_numpy(plan.bias_unit).to(total)
                for b in biases:
                    saved.append((b, b.detach().clone()))
                    b.zero_()
                plan.bias_module.bias.copy_(torch.round(total / unit) * unit)
        return saved

    @contextmanager
    def fake_quant(self) -> Iterator[None]:
        """Within the block the model computes its deployed function; the float masters come back at the end
        (run ``backward`` inside the block, the optimizer step after it)."""
        saved = self.quantize_weights()
        try:
            yield
        finally:
            restore(saved)

    def finalize(self) -> nn.Module:
        """Snap the masters onto the deployed grid (deploy-exact mode stays on) and unfreeze the neuron
        parameters; returns the model."""
        self.clamp_masters()
        for p in self._frozen:
            p.requires_grad_(True)
        return deploy_exact(self.model, self.target)


def restore(saved: Saved) -> None:
    """Put the float masters back (the values saved by :meth:`QAT.quantize_weights`)."""
    with torch.no_grad():
        for param, value in saved:
            param.copy_(value)
