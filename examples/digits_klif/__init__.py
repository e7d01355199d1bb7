"""KLIF digits example: a KLIF MLP (learned k) on scikit-learn's 8x8 digits."""
