"""Group Neuron digits example: a QCFS ANN converted to a Group Neuron SNN."""
