"""Sinabs 3.1 (``sinabs.nir.to_nir``): IAF -> IF, LIF -> LIF with tau in time steps, exact exponential decay."""

from .base import Preset

PRESET = Preset(
    name="sinabs", library="Sinabs 3.1.3", dt=1.0, reset="subtract", fire_at_threshold=True,
    discretization="exact", max_spikes=None,
    why={"max_spikes": "the default spike_fn MultiSpike sends floor(v_mem / threshold) spikes, with no cap: give "
                       "--max-spikes (1 for SingleSpike)",
         "dt": "tau_mem is written in time steps (dt = 1 step)",
         "reset": "default reset_fn MembraneSubtract",
         "fire_at_threshold": "spikes when v_mem >= spike_threshold",
         "discretization": "alpha = exp(-1 / tau_mem), v = alpha * v + (1 - alpha) * input (norm_input=True)"})
