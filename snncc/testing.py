"""Assertions for a user's own CI: a compiled bundle must behave identically on every backend."""

from __future__ import annotations

import numpy as np

from .bundle import Bundle
from .verify import verify_bundle


def assert_equivalent(bundle: Bundle | str, inputs: np.ndarray | None = None, samples: int = 4,
                      states: bool = True) -> None:
    """Raise AssertionError unless reference, Lava (and netx) agree bit for bit on ``inputs``."""
    b = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
    result = verify_bundle(b, inputs=inputs, samples=samples, states=states)
    if not result.bit_exact:
        raise AssertionError("backends differ:\n" + result.render())
