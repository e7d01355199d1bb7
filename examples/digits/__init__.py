"""Digits example: a LIF MLP on scikit-learn's 8x8 handwritten digits."""
