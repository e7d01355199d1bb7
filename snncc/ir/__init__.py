"""snncc's IR: NIR nodes plus snncc node types, graph metadata for dt/encoding, NIR-layout files."""

from .encoding import InputEncoding
from .graph import NEURON_TYPES, SYNAPSE_TYPES, Graph, node_shapes, type_name
from .nodes import QLIF, LIFNeuron, QDense, SnnccNode
from .serialize import is_standard, read_graph, write_graph

__all__ = [
    "Graph", "InputEncoding", "LIFNeuron", "NEURON_TYPES", "QDense", "QLIF", "SYNAPSE_TYPES", "SnnccNode",
    "is_standard", "node_shapes", "read_graph", "type_name", "write_graph",
]
