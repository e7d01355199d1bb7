"""Rockpool 3.1 (``rockpool.nn.modules.to_nir``): LIFTorch -> CubaLIF, exact exponential decays at its default
dt = 1e-3, subtract reset, ``v >= threshold``, up to ``max_spikes_per_dt`` (2**16 by default) spikes a step, which
NIR cannot say (multi-level neurons here; ``--max-spikes 1`` for ``max_spikes_per_dt=1``). Its export drops the
neurons' ``bias`` (``v_leak`` is written as zeros) and, from a batched sample, keeps the batch dimension."""

from .base import Preset
from .repairs import BATCH_DIMENSION, ROCKPOOL_GAIN

PRESET = Preset(
    name="rockpool", library="Rockpool 3.1.0", dt=1e-3, reset="subtract", fire_at_threshold=True,
    discretization="exact", max_spikes=1 << 16,
    why={"max_spikes": "LIFTorch's default max_spikes_per_dt = 2**16 (--max-spikes 1 for max_spikes_per_dt=1)",
         "dt": "LIFTorch's default dt = 1e-3 (give --dt if the model used another)",
         "reset": "vmem -= spikes * threshold",
         "fire_at_threshold": "spikes = floor(vmem / threshold) where vmem >= threshold",
         "discretization": "alpha = exp(-dt / tau_mem), beta = exp(-dt / tau_syn)"},
    repairs=(BATCH_DIMENSION, ROCKPOOL_GAIN))
