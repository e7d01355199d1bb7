"""snncc's IR: NIR nodes plus snncc node types, graph metadata for dt/encoding, NIR-layout files.

The neuron node types belong to their families (``snncc.families``); the IR defines what every node is
(:mod:`snncc.ir.nodes`), the integer synapses, the graph, its metadata keys and its files.
"""

from . import keys, timing
from .encoding import InputEncoding
from .graph import SYNAPSE_TYPES, Graph, layer_size, node_shapes, type_name
from .nodes import (
    FloatNeuron,
    IntegerNeuron,
    IntegerSynapse,
    NeuronNode,
    NeuronState,
    QConv,
    QDense,
    SnnccNode,
)
from .serialize import is_standard, read_graph, write_graph

__all__ = [
    "FloatNeuron", "Graph", "InputEncoding", "IntegerNeuron", "IntegerSynapse", "NeuronNode", "NeuronState",
    "QConv", "QDense", "SYNAPSE_TYPES", "SnnccNode",
    "is_standard", "keys", "layer_size", "node_shapes", "read_graph", "timing", "type_name", "write_graph",
]
