"""Norse 1.1 (``norse.torch.to_nir``): box and current-based cells, forward Euler at dt = 1e-3, with
three export bugs repaired (batch dimension, tau = dt * tau_mem, the current jump's w_in)."""

from .base import Preset
from .repairs import BATCH_DIMENSION, NORSE_JUMP, NORSE_TAU

PRESET = Preset(
    name="norse", library="Norse 1.1.0", dt=1e-3, reset="zero", fire_at_threshold=False, discretization="euler",
    max_spikes=1,
    why={"max_spikes": "z = heaviside(...) is 0 or 1",
         "dt": "to_nir's default dt = 1e-3",
         "reset": "the cells' default method reset_value: v = v_reset after a spike",
         "fire_at_threshold": "z = heaviside(v - v_th) with heaviside(0) = 0",
         "discretization": "v += dt * tau_mem_inv * ((v_leak - v) + i)"},
    repairs=(BATCH_DIMENSION, NORSE_TAU, NORSE_JUMP))
