"""snncc's IR: NIR nodes plus snncc node types, graph metadata for dt/encoding, NIR-layout files."""

from .encoding import InputEncoding
from .graph import FLOAT_NEURONS, INT_NEURONS, NEURON_TYPES, SYNAPSE_TYPES, Graph, layer_size, node_shapes, type_name
from .nodes import (
    QARLIF,
    QLIF,
    ARLIFNeuron,
    KLIFNeuron,
    LIFNeuron,
    MultiLevelNeuron,
    QConv,
    QDense,
    QMultiLevel,
    QSubStepMultiLevel,
    SnnccNode,
)
from .serialize import is_standard, read_graph, write_graph

__all__ = [
    "ARLIFNeuron", "FLOAT_NEURONS", "Graph", "INT_NEURONS", "InputEncoding", "KLIFNeuron", "LIFNeuron",
    "MultiLevelNeuron", "NEURON_TYPES", "QARLIF", "QConv", "QDense", "QLIF", "QMultiLevel", "QSubStepMultiLevel",
    "SYNAPSE_TYPES", "SnnccNode",
    "is_standard", "layer_size", "node_shapes", "read_graph", "type_name", "write_graph",
]
