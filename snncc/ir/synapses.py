"""The float synapses of the IR (NIR's ``Affine``, ``Linear``, ``Conv2d``): reading and rebuilding them."""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

FLOAT_SYNAPSES = (nir.Affine, nir.Linear, nir.Conv2d)


def as_affine(node: Any) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of a synapse; a convolution's bias is per output channel."""
    w = np.asarray(node.weight, np.float64)
    has_bias = isinstance(node, (nir.Affine, nir.Conv2d)) and node.bias is not None
    b = np.asarray(node.bias, np.float64) * np.ones(w.shape[0]) if has_bias else np.zeros(w.shape[0])
    return w, b


def with_weight(node: Any, w: np.ndarray, **geometry: Any) -> Any:
    """The same synapse without bias and with kernel/matrix ``w`` (a convolution keeps its geometry unless
    ``geometry`` overrides fields)."""
    if isinstance(node, nir.Conv2d):
        fields = {"input_shape": node.input_shape, "stride": node.stride, "padding": node.padding,
                  "dilation": node.dilation, "groups": node.groups, **geometry}
        return nir.Conv2d(weight=w, bias=np.zeros(w.shape[0]), metadata=dict(node.metadata), **fields)
    return nir.Linear(weight=w, metadata=dict(node.metadata))


def identity_synapse(n: int, metadata: dict) -> nir.Conv2d:
    """A synapse that passes ``n`` spikes through unchanged: a depthwise 1x1 convolution of weight 1 (no dense
    n x n matrix, whatever the layer's size)."""
    return nir.Conv2d(input_shape=(1, 1), weight=np.ones((n, 1, 1, 1)), stride=1, padding=0, dilation=1, groups=n,
                      bias=np.zeros(n), metadata=metadata)
