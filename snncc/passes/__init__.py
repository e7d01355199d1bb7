"""Compiler passes and the default pipeline (built from the target description)."""

from __future__ import annotations

from ..target import Target
from .balance_latency import BalanceLatency
from .base import Pass, PassContext, PassManager
from .calibrate import CALIBRATION_METHODS, Calibrate
from .canonicalize import Canonicalize, check_canonical
from .lower_neurons import LowerNeurons
from .lower_primitives import LowerPrimitives
from .partition import Partition
from .place import Place
from .quantize import Quantize

__all__ = ["BalanceLatency", "CALIBRATION_METHODS", "Calibrate", "Canonicalize", "LowerNeurons", "LowerPrimitives",
           "Pass", "PassContext", "PassManager", "Partition", "Place", "Quantize", "check_canonical",
           "default_pipeline", "PASSES"]

PASSES: dict[str, type[Pass]] = {
    p.name: p for p in (Canonicalize, BalanceLatency, LowerNeurons, Calibrate, Quantize, LowerPrimitives, Partition,
                        Place)
}


def default_pipeline(target: Target, calibrate: bool = False) -> list[Pass]:
    """canonicalize -> balance-latency -> lower-neurons -> [calibrate] -> quantize -> lower-primitives -> partition
    -> place; ``calibrate`` only when asked for (calibration data or a clip rule).

    Every step reads the target's data (formats, limits, declared primitives), never its name.
    """
    return [Canonicalize(), BalanceLatency(), LowerNeurons(), *([Calibrate()] if calibrate else []), Quantize(),
            LowerPrimitives(), Partition(), Place()]
