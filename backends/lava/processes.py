"""Lava processes of a quantized graph's nodes: the neuron process each layer's recorded primitive names, the
synapse processes, and the recorders of a layer's traces.

A neuron layer runs on the Lava class its target primitive declares (``targets/*.yaml``: ``primitives.*.lava``),
which lower-primitives recorded on the layer (``keys.PRIMITIVE``); the layer's family builds the process
(``Family.lava_process``). Nothing here knows neuron types.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.lava.execution import GRADED_MESSAGE_BITS
from snncc.compat.lava import import_lava
from snncc.errors import GraphError, TargetError
from snncc.families import REGISTRY
from snncc.families.base import Clock
from snncc.ir import Graph, QConv, QDense, keys

SPARSE_MAX_DENSITY = 0.25
"""Above this share of non-zero weights a dense matrix is as cheap to store and multiply as CSR."""


@cache
def lava_class(path: str) -> type:
    """The class at dotted ``path`` (a target primitive's ``lava`` entry). Lava is imported through the compat shim
    first: a family's process module imports Lava, which fails on Python 3.11 without the shim's workarounds."""
    import_lava()
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TargetError(f"the Lava class {path} of a target primitive cannot be imported: {exc}") from None


def primitive_of(graph: Graph, name: str) -> dict[str, str]:
    """The target primitive lower-primitives recorded for neuron layer ``name``."""
    prim = graph.nodes[name].metadata.get(keys.PRIMITIVE)
    if not prim:
        raise GraphError("the layer has no target primitive recorded (run the lower-primitives pass)", layer=name)
    return prim


def neuron_process(graph: Graph, name: str, clock: Clock) -> Any:
    """The Lava process of neuron layer ``name`` on its recorded primitive's class."""
    import_lava()
    node = graph.nodes[name]
    return REGISTRY.of(node, name).lava_process(node, name, lava_class(primitive_of(graph, name)["lava"]), clock)


def uses_sparse(node: QDense) -> bool:
    """Whether the dense synapse runs as Lava's ``Sparse`` (lateral inhibition of populations, pruned layers...)."""
    w = np.asarray(node.weight)
    return w.size > 0 and np.count_nonzero(w) <= SPARSE_MAX_DENSITY * w.size


def dense_process(node: QDense, name: str, allow_sparse: bool = True) -> Any:
    """Lava's ``Dense`` (or ``Sparse``) for ``node``, with its exact integer encoding
    (:func:`snncc.fixedpoint.lava_dense_encoding`); graded (``num_message_bits > 0``) when the node is."""
    import_lava()
    from lava.proc.dense.process import Dense
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode

    weights, weight_exp, num_weight_bits = fx.lava_dense_encoding(node.weight, node.weight_exp)
    kind, proc = ("sparse", Sparse) if allow_sparse and uses_sparse(node) else ("dense", Dense)
    return proc(weights=weights, weight_exp=weight_exp, num_weight_bits=num_weight_bits, sign_mode=SignMode.MIXED,
                num_message_bits=GRADED_MESSAGE_BITS if node.graded else 0, name=f"{kind}:{name}")


def unit_process(node: QConv, name: str) -> Any:
    """Lava's ``Sparse`` for a one-to-one synapse of weight 1 (a depthwise 1 x 1 ``QConv`` over an ``(n, 1, 1)``
    map, as the netx importer gives an encoder block): the identity as a sparse matrix, never an n x n array."""
    import_lava()
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    n = node.geometry.in_shape[0]
    if node.geometry.in_shape != (n, 1, 1) or node.groups != n or np.any(np.asarray(node.weight) != 1):
        raise ValueError(f"{name} is not a one-to-one synapse of weight 1")
    weights, weight_exp, num_weight_bits = fx.lava_dense_encoding(np.ones((1, 1), np.int64), node.weight_exp)
    identity = csr_matrix((np.full(n, int(weights[0, 0])), (np.arange(n), np.arange(n))), shape=(n, n))
    return Sparse(weights=identity, weight_exp=weight_exp, num_weight_bits=num_weight_bits, sign_mode=SignMode.MIXED,
                  num_message_bits=GRADED_MESSAGE_BITS if node.graded else 0, name=f"sparse:{name}")


def record(graph: Graph, name: str, proc: Any, num_steps: int, record_states: bool, path: Callable[[str], str],
           spikes_dtype: str) -> dict[str, str]:
    """Attach recorders to neuron layer ``name``'s process: its output (``spikes``) and, with ``record_states``, the
    Vars its family names as ``u`` and ``v``; returns the file of each trace."""
    from snncc.backends.lava.recorders import FileProbe, FileSink

    paths = {"spikes": path("spikes")}
    proc.s_out.connect(FileSink(shape=proc.s_out.shape, num_steps=num_steps, path=paths["spikes"],
                                dtype=spikes_dtype).a_in)
    if record_states:
        node = graph.nodes[name]
        for what, var in REGISTRY.of(node, name).lava_state_vars(node).items():
            paths[what] = path(what)
            FileProbe(var=getattr(proc, var), num_steps=num_steps, path=paths[what])
    return paths


def sparse_process(matrix: Any, weight_exp: int, graded: bool, name: str) -> Any:
    """Lava's ``Sparse`` for an integer CSR ``matrix`` of mantissas with exponent ``weight_exp``, with the exact
    encoding of :func:`snncc.fixedpoint.lava_dense_encoding` (mantissas doubled, exponent lowered by one)."""
    import_lava()
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode

    data, exp, bits = fx.lava_dense_encoding(matrix.data, weight_exp)
    weights = matrix.copy()
    weights.data = data.astype(np.int32)
    return Sparse(weights=weights, weight_exp=exp, num_weight_bits=bits, sign_mode=SignMode.MIXED,
                  num_message_bits=GRADED_MESSAGE_BITS if graded else 0, name=f"sparse:{name}")
