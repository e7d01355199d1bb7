"""Repairs of known NIR export bugs, each detecting the bug from the file itself so that a repaired (or newer)
export is left alone; where the file cannot tell, the repair refuses instead of guessing."""

from __future__ import annotations

import nir
import numpy as np

from ...errors import GraphError
from ...ir import Graph
from ...ir.nodes import value_range
from ..nir_shapes import input_rank
from .base import Repair

TAU_FIELDS = ("tau", "tau_mem", "tau_syn")  # the time-constant fields of NIR's neuron primitives


def strip_batch_dimension(g: Graph, dt: float) -> list[str]:
    """Input/Output shapes with a leading batch dimension (exports through nirtorch's ``extract_nir_graph``
    without ``ignore_dims`` keep the sample's) lose it: NIR shapes never hold the batch. Only dimensions the
    node's neighbour cannot take are removed (a dense layer takes 1-D input, a convolution (C, H, W))."""
    changed = []
    for name, node in list(g.nodes.items()):
        if isinstance(node, nir.Input):
            shape, port, near = np.asarray(node.input_type["input"]), "input", g.successors(name)
        elif isinstance(node, nir.Output):
            shape, port, near = np.asarray(node.output_type["output"]), "output", g.predecessors(name)
        else:
            continue
        rank = max((r for n in near if (r := input_rank(g.nodes[n])) is not None), default=None)
        if rank is None or len(shape) <= rank:
            continue
        new = shape[len(shape) - rank:]
        kind = nir.Input if port == "input" else nir.Output
        key = "input_type" if port == "input" else "output_type"
        g.nodes[name] = kind(**{key: {port: np.array(new)}}, metadata=dict(node.metadata))
        changed.append(f"{name}: shape {list(shape)} -> {list(new)} (batch dimension removed)")
    return changed


def norse_time_constants(g: Graph, dt: float) -> list[str]:
    """Norse 1.1 writes ``tau = dt / tau_inv = dt * tau`` (norse#411): every time constant is then below ``dt``,
    which no sound graph has (its decay would be negative). Such constants are divided by ``dt``."""
    found = [(name, f) for name, node in g.nodes.items() if isinstance(node, nir.NIRNode) for f in TAU_FIELDS
             if hasattr(node, f)]
    if not found:
        return []
    below = {(n, f): np.asarray(getattr(g.nodes[n], f)) < dt for n, f in found}
    if not any(b.any() for b in below.values()):
        return []
    if not all(b.all() for b in below.values()):
        bad = ", ".join(f"{n}.{f}" for (n, f), b in below.items() if not b.all())
        raise GraphError(f"some time constants are below dt={dt:g} (Norse's tau = dt * tau_mem bug) and others "
                         f"({bad}) are not: the file mixes repaired and unrepaired layers",
                         hint="repair the file by hand, or pass --from nir with the right --dt")
    changed = []
    for name, f in found:
        old = np.asarray(getattr(g.nodes[name], f), np.float64)
        setattr(g.nodes[name], f, old / dt)
        changed.append(f"{name}.{f}: {value_range(old)} -> {value_range(old / dt)} s (tau = dt * tau_mem, norse#411)")
    return changed


def norse_current_jump(g: Graph, dt: float) -> list[str]:
    """Norse's current-based LIF adds its input to the current at once (``i += I``), which in NIR's forward Euler
    is ``w_in = tau_syn / dt``; Norse 1.1 writes ``w_in = 1``. Run after the time-constant repair."""
    changed = []
    for name, node in g.nodes.items():
        if hasattr(node, "w_in") and hasattr(node, "v_threshold"):  # NIR's current-based spiking neuron
            w_in = np.asarray(node.w_in, np.float64)
            jump = np.asarray(node.tau_syn, np.float64) / dt
            if np.allclose(w_in, jump):
                continue
            if not np.all(w_in == 1):
                raise GraphError(f"w_in is {value_range(w_in)}, neither Norse's 1 nor tau_syn/dt", layer=name,
                                 hint="pass --from nir if the file is not a Norse export")
            node.w_in = np.broadcast_to(jump, np.shape(node.tau_syn)).copy()
            changed.append(f"{name}.w_in: 1 -> {value_range(jump)} (Norse's current jump)")
    return changed



BATCH_DIMENSION = Repair("batch-dimension", "Input/Output shapes keep the batch dimension (nirtorch#18, NIR#69)",
                         strip_batch_dimension)
NORSE_TAU = Repair("norse-tau", "tau is written as dt * tau_mem (norse#411)", norse_time_constants)
NORSE_JUMP = Repair("norse-current-jump", "CubaLIF w_in = 1 stands for an input jump (w_in = tau_syn / dt)",
                    norse_current_jump)


def rockpool_input_gain(g: Graph, dt: float) -> list[str]:
    """Rockpool writes ``r = tau_mem * exp(-dt/tau_mem) / dt`` (and ``w_in = 1``) for gains NIR's exact step
    reads differently. LIFTorch (CubaLIF) adds its input to the current before the current decays (``isyn = beta
    (isyn + x)``): a gain of ``beta = exp(-dt/tau_syn)``; LIFNeuronTorch (LIF) adds it to the decayed voltage: a
    gain of 1. Where a neuron carries exactly Rockpool's values (which also checks dt), ``w_in`` (CubaLIF) or ``r``
    (LIF) is set so that the exact step gives Rockpool's gain; other values are refused."""
    changed = []
    for name, node in g.nodes.items():
        if not (hasattr(node, "v_threshold") and (hasattr(node, "tau_mem") or hasattr(node, "tau"))):
            continue
        cuba = hasattr(node, "w_in")
        tau_mem = np.asarray(node.tau_mem if cuba else node.tau, np.float64)
        alpha = np.exp(-dt / tau_mem)
        r = np.asarray(node.r, np.float64)
        w_in = np.asarray(node.w_in, np.float64) if cuba else np.ones(1)
        if not (np.allclose(r, tau_mem * alpha / dt, rtol=1e-6) and np.all(w_in == 1)):
            stated = f"r is {value_range(r)}" + (f" and w_in {value_range(w_in)}" if cuba else "")
            raise GraphError(f"{stated}, not what Rockpool's export writes for dt={dt:g} (r = tau_mem "
                             f"exp(-dt/tau_mem) / dt{', w_in = 1' if cuba else ''})", layer=name,
                             hint="pass the --dt the model was trained with, or --from nir")
        if cuba:
            beta = np.exp(-dt / np.asarray(node.tau_syn, np.float64))
            node.w_in = np.broadcast_to(beta / ((1.0 - alpha) * (1.0 - beta) * r), np.shape(node.tau_syn)).copy()
            changed.append(f"{name}.w_in: 1 -> {value_range(node.w_in)} (LIFTorch's input gain exp(-dt/tau_syn))")
        else:
            node.r = np.broadcast_to(1.0 / (1.0 - alpha), np.shape(node.tau)).copy()
            changed.append(f"{name}.r: {value_range(r)} -> {value_range(node.r)} (LIFNeuronTorch's input gain 1)")
    return changed


ROCKPOOL_GAIN = Repair("rockpool-input-gain", "the input gains of LIFTorch and LIFNeuronTorch are written as r and "
                       "w_in that NIR's exact step reads differently", rockpool_input_gain)
