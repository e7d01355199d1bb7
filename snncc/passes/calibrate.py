"""calibrate: choose each neuron layer's weight clip and decay rounding before quantize, from calibration data.

Quantize maps the largest ``|weight|`` of a layer onto the largest mantissa (the *max* rule): one outlier weight
then coarsens the grid of every other weight. This pass writes, per neuron layer, the ``|weight|`` that the largest
mantissa should stand for (``snncc.weight_clip``, weights beyond it saturate) and, with data, rounding-corrected
12-bit decays (``snncc.decay_int``); quantize reads both. Thresholds and biases follow the chosen scale, as they
always do (``vth = round(scale * theta)``). Methods:

* ``max``: no clip (quantize's default rule).
* ``percentile``: the ``percentile``-th percentile of the layer's ``|weights|``; with data, only weights whose
  input ever carried a spike count (a weight that never sees input costs nothing when clipped).
* ``search``: the error-minimising clip. Candidates from ``max |W|`` down to ``max |W| / 8`` in 1/8-octave
  steps (and the percentile) are each quantized by the real quantizer (:func:`quantize.quantize_layer` on the
  layer's sub-graph), and the one whose synaptic input differs least from the float input on the calibration data
  (mean squared error in threshold units, the float network's own spikes as input, filtered by the layer's decays)
  wins; ties keep the larger clip. Then the mantissas are chosen jointly by error-minimising rounding
  (:mod:`.rounding`) where that lowers the error further; the rounded weights are written back on their grid, with
  the clip that makes quantize reproduce them exactly.

Decay correction: the deployed decay ``x * (2**bits - d) / 2**bits`` truncates toward zero, an extra leak that
matters when states are a few units. With data, each layer whose family allows it (``CORRECTS_DECAYS``) gets the
``dv`` (and ``du``) within one of the nearest that best reproduces ``beta * v`` on the float run's own membrane
states in deployed units.

The calibration data are payloads like ``--inputs``: (samples, T, n_in). Per-layer choices and errors go to
``ctx.notes['calibrate']`` for the report. With data, each neuron layer's measured spike rates (float run, spikes
per step and neuron) go into its ``snncc.spike_rates``: the placement's traffic weights (docs/placement.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nir
import numpy as np

from .. import fixedpoint as fx
from ..backends.reference import FloatSimulator
from ..conv import conv2d, nir_geometry
from ..errors import QuantizationError
from ..families.quantization import effective_weights, weight_units
from ..inputs import check_payloads, load_inputs
from ..ir import FloatNeuron, Graph, InputEncoding, keys
from .base import Pass, PassContext
from .canonicalize import check_canonical
from .options import option
from .quantize import Quantize, quantize_layer
from .rounding import gram_conv, gram_dense, round_conv_to_grid, round_to_grid

DEFAULT_PERCENTILE = 99.9
SEARCH_OCTAVES, SEARCH_STEPS_PER_OCTAVE = 3, 8
MAX_CALIBRATION_ROWS = 4096  # (sample, step) rows per layer used to score a clip: bounds the search's cost
MAX_CALIBRATION_VALUES = 20_000_000  # rows x inputs per synapse: bounds its memory on wide convolutions


@dataclass
class Calibrate(Pass):
    name = "calibrate"
    level = "float"
    optional = True
    option_error = QuantizationError
    data: str | Path | np.ndarray | None = option(
        None, cli="--calibrate",
        help=".npy/.npz payloads (samples, T, n_in), e.g. training inputs: per-layer weight clips and "
             "rounding-corrected decays chosen on them before quantization")
    method: Literal["max", "percentile", "search"] | None = option(
        None, cli="--calibrate-method",
        help="weight clip rule: max |W|, a percentile of |W|, or the error-minimising search (default with "
             "--calibrate; max without)")
    percentile: float | None = option(
        None, cli="--calibrate-percentile",
        help=f"percentile of |W| for --calibrate-method percentile (default {DEFAULT_PERCENTILE})")

    def wanted(self) -> bool:
        # a percentile alone asks for the percentile rule; 'max' alone is quantize's own rule
        return self.data is not None or self.method not in (None, "max") or self.percentile is not None

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)
        pct = DEFAULT_PERCENTILE if self.percentile is None else float(self.percentile)
        if not 0.0 < pct <= 100.0:
            raise QuantizationError(f"calibration percentile must lie in (0, 100], got {pct}")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        data = self._data(ctx, graph)
        method = self.method or ("search" if data is not None else "percentile" if self.percentile is not None
                                 else "max")
        if method == "search" and data is None:
            raise QuantizationError("the 'search' calibration needs calibration data (--calibrate data.npy)")
        g = graph.copy()
        pct = DEFAULT_PERCENTILE if self.percentile is None else float(self.percentile)
        resolution = ctx.find(Quantize).bias_resolution
        run = _float_run(g, data) if data is not None else None
        layers = {}
        names = [n for n in g.topological_order()
                 if isinstance(g.nodes[n], FloatNeuron) and keys.RELAY not in (g.nodes[n].metadata or {})]
        for i, name in enumerate(names):
            if len(names) > 4:
                ctx.say(f"calibrate: layer {i + 1}/{len(names)} {name}")
            inputs = _layer_inputs(g, name, data, run) if run is not None else None
            layers[name] = _calibrate_layer(g, name, method, pct, inputs, ctx, resolution)
            if run is not None and g.nodes[name].CORRECTS_DECAYS:
                layers[name].update(_correct_decays(g, name, run, ctx, resolution))
        if run is not None:
            _record_rates(g, run)
        ctx.notes["calibrate"] = {"method": method, "samples": 0 if data is None else int(len(data)),
                                  "percentile": pct, "layers": layers}
        return g

    def _data(self, ctx: PassContext, graph: Graph) -> np.ndarray | None:
        if self.data is None:
            return None
        n_in = int(np.prod(graph.nodes[graph.input_names[0]].input_type["input"]))
        encoding = InputEncoding.from_metadata(graph.metadata)
        data = (load_inputs(self.data, n_in, encoding) if isinstance(self.data, (str, Path))
                else check_payloads(self.data, n_in, encoding, "calibration data"))
        ctx.say(f"calibration data: {len(data)} samples")
        return data

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.of_type(FloatNeuron):
            clip = (node.metadata or {}).get(keys.WEIGHT_CLIP)
            if clip is not None and not np.all(np.asarray(clip) > 0):
                raise QuantizationError(f"calibrated weight clip {clip} is not positive", layer=name)


def _record_rates(g: Graph, run) -> None:
    """Each neuron layer's measured spikes per step and neuron (``snncc.spike_rates``): the traffic weights of the
    placement (quantize carries a layer's metadata to its integer layer)."""
    for name, counts in run.counts.items():
        if counts.spikes_per_neuron is not None and name in g.nodes:
            rates = np.round(counts.spikes_per_neuron / float(run.batch * run.timesteps), 6)
            g.nodes[name].metadata = {**(g.nodes[name].metadata or {}), keys.SPIKE_RATES: rates.tolist()}


def _float_run(g: Graph, data: np.ndarray):
    """The float network on the calibration data (already checked against the graph's input by ``_data``)."""
    return FloatSimulator(g).run(np.asarray(data), record_states=True)


def _layer_inputs(g: Graph, name: str, data: np.ndarray, run) -> dict[str, np.ndarray]:
    """Per synapse feeding ``name``: what the float network sent into it, as the membrane sees it, (rows, n_in)
    over (sample, step).

    Each input train is filtered by the layer's own current and voltage decays (its post-synaptic potential), so
    a weight error counts as the membrane error it causes: errors on inputs that arrive together or persist add up
    in ``v``, which is what moves a spike. (The filter ignores resets; it is a weighting, not a simulation.)
    """
    out = {}
    decays = g.nodes[name].calibration_decays()
    for syn in g.predecessors(name):
        src = g.predecessors(syn)[0]
        node = g.nodes[src]
        x = np.asarray(data if isinstance(node, nir.Input) else run.layers[src].spikes, np.float64)
        if not isinstance(node, nir.Input):
            x = node.output(x)
        for d in decays:
            x = _leaky_sum(x, d)
        x = x.reshape(-1, x.shape[-1])
        rows = max(1, min(len(x), MAX_CALIBRATION_ROWS, MAX_CALIBRATION_VALUES // x.shape[-1]))
        out[syn] = x[np.linspace(0, len(x) - 1, rows).astype(int)]
    return out


def _leaky_sum(x: np.ndarray, decay: float) -> np.ndarray:
    """``y_t = decay * y_{t-1} + x_t`` along the step axis of (samples, T, n)."""
    y = np.array(x, np.float64, copy=True)
    if decay:
        for t in range(1, y.shape[1]):
            y[:, t] += decay * y[:, t - 1]
    return y


def _current(g: Graph, syn: str, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    node = g.nodes[syn]
    if isinstance(node, nir.Conv2d):
        return conv2d(x, np.asarray(w, np.float64), nir_geometry(node))
    return x @ np.asarray(w, np.float64).T


def _sub_graph(g: Graph, name: str) -> Graph:
    """The layer, its synapses and their sources: all the quantizer reads for one layer (copied)."""
    syns = g.predecessors(name)
    keep = {name, *syns, *(g.predecessors(s)[0] for s in syns)}
    sub = Graph(nodes={n: g.nodes[n] for n in keep}, edges=[(a, b) for a, b in g.edges if a in keep and b in keep],
                metadata=dict(g.metadata))
    return sub.copy()


def _quantize_with(g: Graph, name: str, clip: float | None, ctx: PassContext,
                   resolution: str) -> tuple[dict, dict, dict] | None:
    """(effective float weights, quantizer statistics, grid units) of ``name`` quantized with weight clip ``clip``
    (None: the quantizer refuses it)."""
    sub = _sub_graph(g, name)
    sub.nodes[name].metadata.pop(keys.WEIGHT_CLIP, None)
    if clip is not None:
        sub.nodes[name].metadata[keys.WEIGHT_CLIP] = clip
    quiet = PassContext(target=ctx.target)
    try:
        stats = quantize_layer(sub, name, InputEncoding.from_metadata(sub.metadata), quiet, resolution)
    except QuantizationError:
        return None
    return effective_weights(sub, name), {**stats, "warnings": quiet.warnings}, weight_units(sub, name)


def _weights(g: Graph, name: str) -> dict[str, np.ndarray]:
    return {s: np.asarray(g.nodes[s].weight, np.float64) for s in g.predecessors(name)}


def _percentile_clip(g: Graph, name: str, pct: float, inputs: dict[str, np.ndarray] | None) -> float:
    """The ``pct``-th percentile of the non-zero |weights| (with data: of those whose input ever spiked)."""
    values = []
    for syn, w in _weights(g, name).items():
        a = np.abs(w)
        if inputs is not None and not isinstance(g.nodes[syn], nir.Conv2d):
            a = a[:, np.any(inputs[syn] != 0, axis=0)]
        values.append(a[a > 0].ravel())
    flat = np.concatenate(values) if values else np.zeros(0)
    return float(np.percentile(flat, pct)) if flat.size else 0.0


def _threshold(node: object) -> float:
    return float(np.max(np.abs(node.threshold)))


def _calibrate_layer(g: Graph, name: str, method: str, pct: float, inputs: dict[str, np.ndarray] | None,
                     ctx: PassContext, resolution: str) -> dict:
    weights = _weights(g, name)
    wmax = max((float(np.abs(w).max()) for w in weights.values() if w.size), default=0.0)
    if wmax == 0.0:
        return {"clip": None, "weight_max_abs": 0.0}
    percentile = _percentile_clip(g, name, pct, inputs)
    if method == "max":
        clip = None
    elif method == "percentile":
        clip = percentile if 0 < percentile < wmax else None
    else:
        clip = _search(g, name, wmax, percentile, inputs, ctx, resolution)
    note: dict = {"clip": clip, "weight_max_abs": wmax, "percentile_clip": percentile, "rounding": "nearest"}
    if clip is not None:
        g.nodes[name].metadata[keys.WEIGHT_CLIP] = clip
    if inputs is None:
        return note
    theta = _threshold(g.nodes[name])
    base = _quantize_with(g, name, None, ctx, resolution)
    chosen = _quantize_with(g, name, clip, ctx, resolution)
    note["input_error_max_rule"] = None if base is None else _input_error(g, weights, base[0], inputs, theta)
    note["input_error_nearest"] = None if chosen is None else _input_error(g, weights, chosen[0], inputs, theta)
    note["weights_clipped"] = None if chosen is None else chosen[1]["weight_clipped"]
    note["input_error"] = note["input_error_nearest"]
    if method == "search" and chosen is not None:
        rounded = _round_layer(g, name, chosen[2], inputs, ctx)
        err = _input_error(g, weights, rounded, inputs, theta)
        if err < note["input_error"]:  # keep the error-minimising mantissas (else nearest rounding stays)
            for s, w in rounded.items():
                g.nodes[s].weight = w
            unit = np.asarray(next(iter(chosen[2].values())), np.float64)  # per row for per-neuron grids
            clip = ctx.target.synapse_format.weight_max * unit.ravel()
            g.nodes[name].metadata[keys.WEIGHT_CLIP] = float(clip[0]) if clip.size == 1 else clip.tolist()
            note.update(rounding="error-minimising", input_error=err)
    return note


def _round_layer(g: Graph, name: str, units: dict[str, float], inputs: dict[str, np.ndarray],
                 ctx: PassContext) -> dict[str, np.ndarray]:
    """The layer's synapse weights moved onto their grids by error-minimising rounding (float values m * unit)."""
    sfmt = ctx.target.synapse_format
    out = {}
    for s, w in _weights(g, name).items():
        node = g.nodes[s]
        if isinstance(node, nir.Conv2d):
            geom = nir_geometry(node)
            m = round_conv_to_grid(w, units[s], sfmt.weight_min, sfmt.weight_max, gram_conv(inputs[s], geom),
                                   geom.groups)
        else:
            m = round_to_grid(w, units[s], sfmt.weight_min, sfmt.weight_max, gram_dense(inputs[s]))
        out[s] = m * units[s]
    return out


def _input_error(g: Graph, weights: dict, effective: dict, inputs: dict, theta: float) -> float:
    """Mean squared difference of the synaptic input, float vs quantized weights, in threshold units."""
    diff = sum(_current(g, s, weights[s] - effective[s], inputs[s]) for s in weights)
    return float(np.mean(np.square(diff))) / theta**2


def _search(g: Graph, name: str, wmax: float, percentile: float, inputs: dict[str, np.ndarray],
            ctx: PassContext, resolution: str) -> float | None:
    """The candidate clip with the least input error (None: the max rule)."""
    theta = _threshold(g.nodes[name])
    weights = _weights(g, name)
    steps = SEARCH_OCTAVES * SEARCH_STEPS_PER_OCTAVE
    candidates = [wmax * 2.0 ** (-j / SEARCH_STEPS_PER_OCTAVE) for j in range(steps + 1)]
    if 0 < percentile < wmax:
        candidates.append(percentile)
    best, best_err, seen = None, np.inf, set()
    for c in sorted(candidates, reverse=True):
        q = _quantize_with(g, name, None if c == wmax else c, ctx, resolution)
        if q is None:
            continue
        key = tuple(np.asarray(w).tobytes() for w in q[0].values())
        if key in seen:  # a clip that lands on a grid already scored (power-of-two grids)
            continue
        seen.add(key)
        err = _input_error(g, weights, q[0], inputs, theta)
        if err < best_err * (1 - 1e-9):
            best, best_err = (None if c == wmax else c), err
    return best


def _correct_decays(g: Graph, name: str, run, ctx: PassContext, resolution: str) -> dict:
    """Rounding-corrected (du, dv): within one of the nearest, the best reproduction of the float decay on the
    float run's states in deployed units (v in 1/(64 scale) units)."""
    node = g.nodes[name]
    q = _quantize_with(g, name, (node.metadata or {}).get(keys.WEIGHT_CLIP), ctx, resolution)
    if q is None:
        return {}
    scale, nfmt = float(q[1]["scale"]), ctx.target.neuron_format
    trace = run.layers[name]
    out = {}
    for key, decay, states, shift in (("dv", float(np.max(node.decay_v)), trace.v, 0),
                                      ("du", float(np.max(node.decay_i)), trace.u, 1)):
        x = np.round(np.asarray(states, np.float64).ravel() * scale * fx.ACT_SHIFT_SCALE).astype(np.int64)
        x = x[x != 0][:: max(1, int(np.count_nonzero(x) // 100_000))]
        nearest = fx.float_decay_to_int(decay, nfmt.decay_bits)
        if x.size == 0:
            out[key] = nearest - shift
            continue
        target = decay * x.astype(np.float64)
        one = 1 << nfmt.decay_bits
        options = [d for d in (nearest - 1, nearest, nearest + 1) if 0 <= d <= one]
        errors = {d: float(np.mean(np.square(fx.trunc_decay(x, d, nfmt.decay_bits) - target))) for d in options}
        best = min(options, key=lambda d: (errors[d], abs(d - nearest)))
        out[key] = best - shift  # du is stored as (decay integer - 1): Lava decays the current by du + 1
    node.metadata[keys.DECAY_INT] = {"du": out["du"], "dv": out["dv"]}
    return {"du": out["du"], "dv": out["dv"], "decays_corrected": [k for k in ("du", "dv")
                                                                     if out[k] != q[1][k]]}
