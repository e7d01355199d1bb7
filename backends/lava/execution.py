"""Running a Lava process graph once and cutting its recordings into per-sample windows.

All samples run back to back in one Lava run (start-up costs ~0.3 s, a step ~1 ms): sample ``i`` occupies the
0-based steps ``[i * stride, i * stride + T)`` of the source, and a layer ``d`` synapses deep, reset at step
``i * stride + d``, processes input step ``t`` of sample ``i`` at step ``i * stride + t + d``.
"""

from __future__ import annotations

import os

import numpy as np

from snncc.backends.reference.trace import LayerTrace, SimResult, count_operations
from snncc.compat.lava import import_lava
from snncc.ir import Graph

GRADED_MESSAGE_BITS = 24  # num_message_bits of a Dense fed graded payloads (any value > 0 selects graded)


def source_data(x: np.ndarray, stride: int, num_steps: int) -> np.ndarray:
    """RingBuffer data (n_in, num_steps) holding sample ``i`` at columns ``i*stride .. i*stride+T-1``, zeros
    elsewhere (so that the source never wraps around to the first sample)."""
    batch, timesteps, n_in = x.shape
    data = np.zeros((n_in, num_steps), dtype=np.int32)
    for i in range(batch):
        data[:, i * stride:i * stride + timesteps] = x[i].T
    return data


def num_lava_steps(batch: int, timesteps: int, stride: int, latency: int) -> int:
    """Steps until the deepest layer has processed the last input step of the last sample."""
    return (batch - 1) * stride + timesteps + latency


def cut_windows(rec: np.ndarray, batch: int, timesteps: int, stride: int, latency: int) -> np.ndarray:
    """(num_steps, n) recording -> (batch, T, n) trace of a layer ``latency`` synapses deep."""
    idx = np.arange(batch)[:, None] * stride + np.arange(timesteps)[None, :] + latency
    return rec[idx]


def run_and_stop(proc: object, num_steps: int) -> None:
    """Run the process graph that ``proc`` belongs to for ``num_steps`` fixed-point steps; always stop it."""
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    try:
        proc.run(condition=RunSteps(num_steps=num_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    finally:
        proc.stop()


def recording_path(directory: str, index: int, layer: str, what: str) -> str:
    """Where the recorder of the ``index``-th layer saves ``what`` (spikes/u/v); names need not be file-safe."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in layer)[:40]
    return os.path.join(directory, f"{index:04d}_{safe}.{what}.npy")


def build_result(
    graph: Graph,
    x: np.ndarray,
    layers: dict[str, LayerTrace],
    output_layers: list[str],
) -> SimResult:
    """A SimResult with the same operation counts the reference simulator reports, from the window traces."""
    batch, timesteps, _ = x.shape
    latency = max((t.latency for t in layers.values()), default=0)
    result = SimResult(timesteps=timesteps, batch=batch, latency=latency, output_layers=output_layers)
    result.layers = dict(layers)
    result.counts = count_operations(graph, x, result.layers)
    return result
