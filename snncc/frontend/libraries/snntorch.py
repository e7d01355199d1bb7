"""snnTorch 1.0 (``snntorch.export_nir``): Leaky -> LIF, Synaptic -> CubaLIF, forward Euler at dt = 1e-4."""

from .base import Preset

PRESET = Preset(
    name="snntorch", library="snnTorch 1.0.0", dt=1e-4, reset="subtract_after_leak", fire_at_threshold=False,
    discretization="euler", max_spikes=1,
    why={"max_spikes": "spk is 0 or 1",
         "dt": "export_to_nir writes tau = dt / (1 - beta) with dt = 1e-4 hard-coded",
         "reset": "Leaky's default reset_mechanism='subtract': mem = beta * mem + input - threshold * spk[t-1] "
                  "(--reset zero for reset_mechanism='zero')",
         "fire_at_threshold": "spk = (mem - threshold > 0)",
         "discretization": "beta = 1 - dt / tau, input gain r * dt / tau = 1"})
