"""NIR's own semantics, for a file of unknown origin whose time step is known."""

from .base import Preset

PRESET = Preset(
    name="nir", library="NIR 1.0.8", dt=None, reset="zero", fire_at_threshold=False, discretization="euler",
    max_spikes=1,
    why={"max_spikes": "NIR neurons emit one spike (z = 1 when v > v_threshold)",
         "dt": "NIR stores no time step: give --dt",
         "reset": "NIR resets v to v_reset when it spikes",
         "fire_at_threshold": "NIR spikes on v > v_threshold",
         "discretization": "forward Euler, the convention of the NIR exporters and the NIR paper's graphs"})
