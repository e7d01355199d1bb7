"""What a refusal of a valid fuzz model may be: a documented limitation, or a known bug someone is fixing.

``LIMITATIONS``: a pattern of the error text -> a short name. Each one is listed, with why, in
``docs/limitations.md`` (``tests/test_fuzz.py`` checks that every name is there). A refusal matching one is an
acceptable outcome of a valid model; any other refusal is a failure of the fuzz run.

``KNOWN_BUGS``: wrongful refusals already reported and being fixed elsewhere. They are not limitations (they are not
in the docs) and are reported on their own; one matches only when the model has the bug's shape (a tag the
generator sets) *and* the error text has the bug's pattern, so a known bug cannot hide a new refusal of another
shape. Remove an entry once its fix is merged: the fuzz then treats that refusal as the failure it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limitation:
    name: str
    pattern: str  # a regular expression searched in "ErrorClass: message"


@dataclass(frozen=True)
class KnownBug:
    name: str
    tag: str  # the shape, as tests.fuzz.generate tags it
    pattern: str
    note: str


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
    Limitation("fan-in-beyond-input-axons", r"fan-in \d+ exceeds the \d+ input axons of a core"),
    Limitation("conv-sum-beyond-int32", r"a convolution sum can reach \d+ >= 2\*\*31"),
)

KNOWN_BUGS: tuple[KnownBug, ...] = (
    KnownBug("klif-after-conv", "klif-after-conv", r"in pass 'lower-neurons': shape mismatch on edge",
             "(a) a KLIF right after a Conv2d; being fixed on another branch"),
    KnownBug("klif-after-residual", "klif-after-residual", r"in pass 'lower-neurons': shape mismatch on edge",
             "(b) a KLIF after a residual addition; being fixed on another branch"),
    KnownBug("klif-k-at-bound", "klif-k-at-bound", r"KLIF decay k\(1-1/tau\) = \S+ is outside \(0, 1\]",
             "(c) a KLIF whose k sits at its constructor's bound tau/(tau-1); being fixed on another branch"),
    KnownBug("pool-then-dilated-conv", "pool-then-dilated-conv",
             r"avgpool2d\w*': a synapse layer must feed exactly one neuron layer",
             "(d) an AvgPool2d followed by a dilated Conv2d; being fixed on another branch"),
    KnownBug("pool-remainder-then-padded-conv", "pool-remainder-then-padded-conv",
             r"avgpool2d\w*': a synapse layer must feed exactly one neuron layer",
             "(e) found by this fuzz: an AvgPool2d(k) over a map whose height or width is not a multiple of k (torch "
             "drops the rest), followed by a Conv2d with padding; fuse_pools leaves it unfused (snncc/passes/"
             "pooling.py, being edited on another branch)"),
)


def limitation(error: str) -> str | None:
    """The name of the documented limitation ``error`` ("ErrorClass: message") matches, or None."""
    for lim in LIMITATIONS:
        if re.search(lim.pattern, error):
            return lim.name
    return None


def known_bug(error: str, tags: set[str] | frozenset[str]) -> str | None:
    """The name of the known bug of a model tagged ``tags`` that ``error`` matches, or None."""
    for bug in KNOWN_BUGS:
        if bug.tag in tags and re.search(bug.pattern, error):
            return bug.name
    return None
