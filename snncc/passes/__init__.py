"""Compiler passes, pipelines and the pass manager."""

from __future__ import annotations

from .balance_latency import BalanceLatency
from .base import DumpIR, Instrument, KeepGraph, LoweringGraphs, Pass, PassContext, PassManager, Progress, Timings
from .calibrate import Calibrate
from .canonicalize import Canonicalize, check_canonical
from .lower_neurons import LowerNeurons
from .lower_primitives import LowerPrimitives
from .partition import Partition
from .pipeline import PASSES, Pipeline, default_pipeline
from .place import Place
from .quantize import Quantize
from .split_fan_in import SplitFanIn

__all__ = ["BalanceLatency", "Calibrate", "Canonicalize", "DumpIR", "Instrument", "KeepGraph", "LowerNeurons",
           "LowerPrimitives", "LoweringGraphs", "PASSES", "Partition", "Pass", "PassContext", "PassManager",
           "Pipeline", "Place", "Progress", "Quantize", "SplitFanIn", "Timings", "check_canonical", "default_pipeline"]
