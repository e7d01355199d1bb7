"""The input encoding of a network, recorded in graph metadata under ``input``.

``spikes``: binary events (any non-zero payload is one spike). ``graded``: integer payloads in
``[0, max_value]``; one payload unit is worth ``scale`` in the float model (the canonicalize pass folds ``scale``
into the first synapses, so that the float and the integer graph both consume the raw integer payloads).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import GraphError

ENCODINGS = ("spikes", "graded")
META_KEY = "input"


@dataclass(frozen=True)
class InputEncoding:
    kind: str = "spikes"
    scale: float = 1.0
    max_value: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ENCODINGS:
            raise GraphError(f"input encoding must be one of {ENCODINGS}, got {self.kind!r}")
        if self.max_value < 1:
            raise GraphError(f"input max_value must be >= 1, got {self.max_value}")

    @property
    def graded(self) -> bool:
        return self.kind == "graded"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> InputEncoding:
        d = metadata.get(META_KEY) or {}
        return cls(kind=str(d.get("kind", "spikes")), scale=float(d.get("scale", 1.0)),
                   max_value=int(d.get("max_value", 1)))
