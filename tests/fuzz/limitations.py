"""What a refusal of a valid fuzz model may be: a documented limitation, and nothing else.

``LIMITATIONS``: a pattern of the error text -> a short name. Each one is listed, with why, in
``docs/limitations.md`` (``tests/test_fuzz.py`` checks that every name is there). A refusal matching one is an
acceptable outcome of a valid model; any other refusal is a failure of the fuzz run (a bug to fix, or a limitation
to document here and there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limitation:
    name: str
    pattern: str  # a regular expression searched in "ErrorClass: message"



LIMITATIONS: tuple[Limitation, ...] = (
    Limitation("graded-input-without-graded-spikes",
               r"has no graded spikes, but the model's input is direct-encoded"),
    Limitation("multilevel-population-next-to-conv",
               r"the population lowering of a multi-level layer connected by a convolution"),
    Limitation("arlif-program-needs-its-primitive",
               r"needs the 'arlif' primitive, which target '\w+' does not declare"),
    Limitation("bias-into-decaying-current", r"a synapse bias into a neuron with current decay cannot be deployed"),
    Limitation("threshold-beyond-vth-range", r"needs vth=\d+ at the lowest weight exponent -?\d+, above the \d+-bit"),
    Limitation("bias-beyond-bias-range", r"bias up to \S+ exceeds the \d+-bit mantissa"),
    Limitation("levels-beyond-voltage-range", r"\d+ levels of quantum 2\*\*\d+ overflow the \d+-bit voltage"),
    Limitation("input-sum-beyond-int32", r"worst-case synaptic input \d+ reaches 2\*\*\d+, where Lava's int32"),
    Limitation("arlif-value-beyond-q12", r"AR-LIF \w+ \S+ exceeds the Q12 range"),
    Limitation("fan-in-split-inexact", r"input axons of a core and cannot be split exactly"),
    Limitation("fan-in-beyond-input-axons", r"fan-in \d+ exceeds the \d+ input axons of a core"),
    Limitation("conv-sum-beyond-int32", r"a convolution sum can reach \d+ >= 2\*\*31"),
)



def limitation(error: str) -> str | None:
    """The name of the documented limitation ``error`` ("ErrorClass: message") matches, or None."""
    for lim in LIMITATIONS:
        if re.search(lim.pattern, error):
            return lim.name
    return None
