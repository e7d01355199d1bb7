"""The integer reference simulator (bit-exact with Lava fixed_pt) and the float simulator of canonical graphs."""

from .float_sim import FloatSimulator
from .simulator import ReferenceSimulator
from .trace import LayerCounts, LayerTrace, SimResult

__all__ = ["FloatSimulator", "LayerCounts", "LayerTrace", "ReferenceSimulator", "SimResult"]
