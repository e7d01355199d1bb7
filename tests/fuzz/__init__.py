"""A fuzz harness of valid models: seeded random models (``generate``), compiled for each target in worker
processes with a timeout (``driver``), each outcome classified against the documented limitations
(``limitations``, docs/limitations.md) and a sample of the bundles verified bit for bit (``cases``).

``tests/test_fuzz.py`` runs a small fuzz in the default suite; ``scripts/fuzz.py`` runs a large one.
"""
