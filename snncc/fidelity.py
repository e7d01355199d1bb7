"""Float (F) vs integer (Q) comparison on the same inputs: firing rates, spike agreement, output agreement."""

from __future__ import annotations

from typing import Any

import numpy as np


def compare_float_int(float_result: Any, int_result: Any) -> dict[str, Any]:
    """Per-layer rates and agreement (fraction of identical spike entries); share of identical predictions."""
    layers = {}
    for name, ft in float_result.layers.items():
        it = int_result.layers[name]
        layers[name] = {
            "float_rate": float(ft.spikes.mean()),
            "int_rate": float(it.spikes.mean()),
            "agreement": float((ft.spikes == it.spikes).mean()),
        }
    agree = float(np.mean(float_result.predictions() == int_result.predictions()))
    return {"layers": layers, "output_agreement": agree}
