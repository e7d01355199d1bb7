"""Models whose values are not numbers a chip can hold: non-finite, complex, out of range, inconsistent shapes."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from snncc import neurons as N

from . import Workspace, case


def _compile(ws: Workspace, module: nn.Module) -> list[str]:
    return ["compile", str(ws.model(module)), "-o", str(ws.out), "--samples", "2", "--timesteps", "4"]


def _mlp(n_in: int = 6, hidden: int = 5, n_out: int = 3, neuron: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(N.GradedInput(8), nn.Linear(n_in, hidden), neuron if neuron is not None else N.LIF(0.9),
                         nn.Linear(hidden, n_out), N.LIF(0.9))


def _set(tensor: torch.Tensor, value: float) -> None:
    with torch.no_grad():
        tensor.view(-1)[0] = value


def _weight_case(name: str, which: str, value: float, *expect: str) -> None:
    @case("model-values", name, *expect)
    def build(ws: Workspace) -> list[str]:
        m = _mlp()
        _set(getattr(m[1], which), value)
        return _compile(ws, m)


_weight_case("inf-weight", "weight", math.inf, "linear_1", "weight", "finite")
_weight_case("minus-inf-weight", "weight", -math.inf, "linear_1", "weight", "finite")
_weight_case("nan-weight", "weight", math.nan, "linear_1", "weight", "finite")
_weight_case("nan-bias", "bias", math.nan, "linear_1", "bias", "finite")
_weight_case("inf-bias", "bias", math.inf, "linear_1", "bias", "finite")


@case("model-values", "complex-weight", "linear_1", "complex")
def _complex(ws: Workspace) -> list[str]:
    m = _mlp()
    m[1] = nn.Linear(6, 5, dtype=torch.complex64)
    return _compile(ws, m)


def _neuron_case(name: str, make: object, attr: str, value: float, *expect: str) -> None:
    @case("model-values", name, *expect)
    def build(ws: Workspace) -> list[str]:
        neuron = make()  # type: ignore[operator]
        _set(getattr(neuron, attr), value)
        return _compile(ws, _mlp(neuron=neuron))


_neuron_case("lif-beta-nan", lambda: N.LIF(0.9), "beta", math.nan, "lif_2", "beta")
_neuron_case("lif-beta-inf", lambda: N.LIF(0.9), "beta", math.inf, "lif_2", "beta")
_neuron_case("lif-threshold-inf", lambda: N.LIF(0.9), "threshold", math.inf, "lif_2", "threshold")
_neuron_case("lif-threshold-nan", lambda: N.LIF(0.9), "threshold", math.nan, "lif_2", "threshold")
_neuron_case("lif-threshold-zero", lambda: N.LIF(0.9), "threshold", 0.0, "lif_2", "threshold")
_neuron_case("lif-threshold-negative", lambda: N.LIF(0.9), "threshold", -1.0, "lif_2", "threshold")
_neuron_case("lif-current-decay-nan", lambda: N.LIF(0.9, current_decay=0.5), "current_decay", math.nan,
             "lif_2", "current_decay")
_neuron_case("lif-current-decay-above-one", lambda: N.LIF(0.9, current_decay=0.5), "current_decay", 1.5,
             "lif_2", "decay")
_neuron_case("klif-k-nan", lambda: N.KLIF(tau=2.0, k=1.0), "k", math.nan, "klif_2", "k")
_neuron_case("klif-k-inf", lambda: N.KLIF(tau=2.0, k=1.0), "k", math.inf, "klif_2", "k")
_neuron_case("arlif-threshold-inf", lambda: N.ARLIF(), "threshold", math.inf, "arlif_2", "threshold")
_neuron_case("multilevel-threshold-nan", lambda: N.MultiLevel(levels=4), "threshold", math.nan,
             "multilevel_2", "threshold")


@case("model-values", "lif-vector-threshold", "lif_2", "threshold", "scalar")
def _vector_threshold(ws: Workspace) -> list[str]:
    lif = N.LIF(0.9)
    lif.threshold = nn.Parameter(torch.ones(5), requires_grad=False)
    return _compile(ws, _mlp(neuron=lif))


@case("model-values", "lif-unknown-reset", "lif_2", "reset", "zero")
def _bad_reset(ws: Workspace) -> list[str]:
    lif = N.LIF(0.9)
    lif.reset = "sometimes"
    return _compile(ws, _mlp(neuron=lif))


@case("model-values", "multilevel-zero-levels", "multilevel_2", "levels")
def _zero_levels(ws: Workspace) -> list[str]:
    neuron = N.MultiLevel(levels=4)
    neuron.levels = 0
    return _compile(ws, _mlp(neuron=neuron))


@case("model-values", "graded-input-zero-levels", "levels")
def _input_levels(ws: Workspace) -> list[str]:
    m = _mlp()
    m[0].levels = 0
    return _compile(ws, m)


def _empty_linear(n_in: int, n_out: int) -> nn.Linear:
    with warnings.catch_warnings():  # torch warns that initialising a zero-element tensor is a no-op
        warnings.simplefilter("ignore", UserWarning)
        return nn.Linear(n_in, n_out)


@case("model-values", "linear-no-inputs", "linear_1", "0")
def _linear_zero_in(ws: Workspace) -> list[str]:
    return _compile(ws, nn.Sequential(N.GradedInput(8), _empty_linear(0, 10), N.LIF(0.9)))


@case("model-values", "linear-no-outputs", "linear_1", "0")
def _linear_zero_out(ws: Workspace) -> list[str]:
    return _compile(ws, nn.Sequential(N.GradedInput(8), _empty_linear(6, 0), N.LIF(0.9)))


@case("model-values", "batchnorm-wrong-size", "batchnorm", "5")
def _bn_size(ws: Workspace) -> list[str]:
    m = _mlp()
    return _compile(ws, nn.Sequential(m[0], m[1], nn.BatchNorm1d(7), m[2], m[3], m[4]))


@case("model-values", "batchnorm-negative-variance", "batchnorm", "running_var")
def _bn_var(ws: Workspace) -> list[str]:
    m = _mlp()
    bn = nn.BatchNorm1d(5).eval()
    _set(bn.running_var, -1.0)
    return _compile(ws, nn.Sequential(m[0], m[1], bn, m[2], m[3], m[4]))


@case("model-values", "batchnorm-nan-mean", "batchnorm", "running_mean", "finite")
def _bn_mean(ws: Workspace) -> list[str]:
    m = _mlp()
    bn = nn.BatchNorm1d(5).eval()
    _set(bn.running_mean, math.nan)
    return _compile(ws, nn.Sequential(m[0], m[1], bn, m[2], m[3], m[4]))


@case("model-values", "conv-inf-weight", "conv2d", "weight", "finite")
def _conv_inf(ws: Workspace) -> list[str]:
    conv = nn.Conv2d(1, 2, 3)
    _set(conv.weight, math.inf)
    model = nn.Sequential(N.GradedInput(8), nn.Unflatten(1, (1, 5, 5)), conv, N.LIF(0.9), nn.Flatten(),
                          nn.Linear(18, 3), N.LIF(0.9))
    return _compile(ws, model)


@case("model-values", "model-timesteps-negative", "timesteps")
def _model_timesteps(ws: Workspace) -> list[str]:
    m = _mlp()
    m.timesteps = -3
    return ["compile", str(ws.model(m)), "-o", str(ws.out)]


@case("model-values", "model-timesteps-text", "timesteps")
def _model_timesteps_text(ws: Workspace) -> list[str]:
    m = _mlp()
    m.timesteps = "many"
    return ["compile", str(ws.model(m)), "-o", str(ws.out)]


@case("model-values", "no-neuron-layer", "neuron")
def _no_neurons(ws: Workspace) -> list[str]:
    return _compile(ws, nn.Sequential(N.GradedInput(8), nn.Linear(6, 3)))


@case("model-values", "empty-sequential", "does not pass through any layer")
def _empty(ws: Workspace) -> list[str]:
    return _compile(ws, nn.Sequential())
