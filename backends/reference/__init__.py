"""The integer reference simulator (bit-exact with Lava fixed_pt) and the float simulator of canonical graphs."""

from .float_sim import FloatSimulator
from .simulator import ReferenceSimulator, check_inputs
from .substep import SubStepSimulator, is_substep_graph
from .trace import LayerCounts, LayerTrace, SimResult

__all__ = ["FloatSimulator", "LayerCounts", "LayerTrace", "ReferenceSimulator", "SimResult", "SubStepSimulator",
           "check_inputs", "is_substep_graph"]
