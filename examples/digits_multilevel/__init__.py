"""Multi-level digits example: a multi-level (graded) neuron MLP with spike input, for Loihi 2 and Loihi."""
