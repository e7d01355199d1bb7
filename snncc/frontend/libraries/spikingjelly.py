"""SpikingJelly 2.0 (``nir_exchange.to_nir.export_to_nir``): LIFNode -> LIF (tau = tau_steps * dt), IFNode -> IF,
forward Euler at dt = 1e-4, hard reset (soft reset cannot be exported)."""

from .base import Preset

PRESET = Preset(
    name="spikingjelly", library="SpikingJelly 2.0.0", dt=1e-4, reset="zero", fire_at_threshold=True,
    discretization="euler", max_spikes=1,
    why={"max_spikes": "spike = heaviside(...) is 0 or 1",
         "dt": "export_to_nir's default dt = 1e-4",
         "reset": "hard reset to v_reset (the exporter refuses v_reset=None)",
         "fire_at_threshold": "spike = heaviside(v - v_threshold) with heaviside(0) = 1",
         "discretization": "H = V + (X - (V - V_reset)) / tau"})
