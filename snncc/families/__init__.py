"""The neuron families snncc compiles, each in one folder, and the registry that finds them.

This list is the only place that names them: a new family is a folder with a ``FAMILY`` object
(:class:`snncc.families.base.Family`) and one line here (see docs/architecture.md, "How to add a neuron family").
"""

from __future__ import annotations

from snncc.families import arlif, klif, lif, multilevel, partial_sum, sigma_delta, substep
from snncc.families.registry import Registry

REGISTRY = Registry(module.FAMILY for module in (lif, klif, arlif, multilevel, substep, sigma_delta,
                                                  partial_sum))

__all__ = ["REGISTRY", "Registry"]
