"""Recurrent digits example: a recurrent LIF layer reads each 8x8 image row by row (8 steps, 8 pixels a step)."""
