"""The mapping of a network onto cores, as typed objects: which neurons of each layer each core holds, and where.

A layer is cut into :class:`Block`\\ s, one per core: a set of the layer's flat neuron indices as sorted
``[start, stop)`` ranges, or for a conv-fed layer the :class:`Tile` (output channels x rows x columns of its
``(C, H, W)`` map) it covers, whose ranges follow from the map (a tile is stored as the tile alone: a ResNet's
tiles span 300,000 ranges, which every copy of the graph would otherwise repeat). Placement gives each block a
:class:`Core`. A :class:`Mapping` holds every layer's blocks and cores; it is stored in the graph's metadata
(``keys.MAPPING``) as plain data and read back with :meth:`Mapping.of`, so partition, placement, the reports and
any backend that needs it see the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import GraphError
from ..ir import Graph, keys


@dataclass(frozen=True)
class Tile:
    """Output channels ``c0..c1`` x rows ``r0..r1`` x columns ``x0..x1`` of a conv-fed layer (half-open)."""

    c0: int
    c1: int
    r0: int
    r1: int
    x0: int
    x1: int

    @property
    def size(self) -> int:
        return (self.c1 - self.c0) * (self.r1 - self.r0) * (self.x1 - self.x0)

    def to_data(self) -> dict[str, list[int]]:
        return {"channels": [self.c0, self.c1], "rows": [self.r0, self.r1], "cols": [self.x0, self.x1]}

    @classmethod
    def from_data(cls, data: dict[str, Sequence[int]]) -> Tile:
        return cls(*(int(v) for v in (*data["channels"], *data["rows"], *data["cols"])))

    def ranges(self, shape: tuple[int, int, int]) -> tuple[tuple[int, int], ...]:
        """The tile's flat CHW indices in a (C, H, W) map as merged ``[start, stop)`` ranges (one range for whole
        channel maps)."""
        _, h, w = shape
        if self.x0 == 0 and self.x1 == w:
            if self.r0 == 0 and self.r1 == h:
                return ((self.c0 * h * w, self.c1 * h * w),)
            return tuple((c * h * w + self.r0 * w, c * h * w + self.r1 * w) for c in range(self.c0, self.c1))
        starts = (np.arange(self.c0, self.c1)[:, None] * h * w + np.arange(self.r0, self.r1)[None, :] * w
                  + self.x0).ravel()
        return tuple((int(s), int(s) + self.x1 - self.x0) for s in starts)


@dataclass(frozen=True)
class Block:
    """The neurons of one layer that one core holds: the ``spans`` of flat indices it holds, or the ``tile`` of the
    layer's ``shape`` (C, H, W) it covers."""

    spans: tuple[tuple[int, int], ...] = ()
    tile: Tile | None = None
    shape: tuple[int, int, int] | None = None  # the layer's map, with a tile

    def __post_init__(self) -> None:
        if (self.tile is None) != (self.shape is None) or (self.tile is not None and self.spans):
            raise ValueError("a block is spans, or a tile with its layer's shape")

    @classmethod
    def span(cls, start: int, stop: int) -> Block:
        """The contiguous block ``[start, stop)``."""
        return cls(((int(start), int(stop)),))

    @cached_property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        """The block's flat neuron indices as sorted, merged ``[start, stop)`` ranges."""
        return self.tile.ranges(self.shape) if self.tile is not None else self.spans

    @property
    def size(self) -> int:
        return self.tile.size if self.tile is not None else sum(b - a for a, b in self.spans)

    def index(self) -> np.ndarray:
        """The block's flat neuron indices, sorted (index a per-neuron array with it, e.g. spike counts)."""
        if self.tile is not None:
            t, (_, h, w) = self.tile, self.shape
            return (np.arange(t.c0, t.c1)[:, None, None] * (h * w) + np.arange(t.r0, t.r1)[None, :, None] * w
                    + np.arange(t.x0, t.x1)[None, None, :]).ravel()
        if not self.spans:
            return np.zeros(0, np.int64)
        return np.concatenate([np.arange(a, b) for a, b in self.spans])

    def to_data(self) -> dict[str, Any]:
        if self.tile is not None:
            return {"tile": self.tile.to_data(), "shape": list(self.shape)}
        return {"neurons": [list(r) for r in self.spans]}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Block:
        if data.get("tile"):
            return cls(tile=Tile.from_data(data["tile"]), shape=tuple(int(v) for v in data["shape"]))
        return cls(tuple((int(a), int(b)) for a, b in data["neurons"]))


@dataclass(frozen=True)
class Core:
    """Where a block is placed: chip, core on the chip, and the core's (row, column) on the chip's mesh."""

    chip: int
    core: int
    row: int
    col: int


@dataclass
class LayerMapping:
    """One layer's blocks, the shared core (slot) each block sits on, and, once placed, the core of each.

    Blocks of different layers with the same slot share one core (each is one of the core's neuron groups); a
    layer's own blocks never share one."""

    blocks: list[Block]
    cores: list[Core] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)

    @property
    def tiled(self) -> bool:
        return bool(self.blocks) and all(b.tile is not None for b in self.blocks)


@dataclass
class Mapping:
    """Every neuron layer's blocks, slots and cores (layers in network order)."""

    layers: dict[str, LayerMapping] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, m in self.layers.items():
            if m.slots and len(m.slots) != len(m.blocks):
                raise GraphError(f"the mapping gives {len(m.slots)} slots for {len(m.blocks)} blocks", layer=name)
        start = 1 + max((s for m in self.layers.values() for s in m.slots), default=-1)
        for m in self.layers.values():  # a layer without slots: one core of its own per block
            if not m.slots:
                m.slots = list(range(start, start + len(m.blocks)))
                start += len(m.blocks)

    @property
    def cores_used(self) -> int:
        return len(self.slot_members())

    @property
    def placed(self) -> bool:
        return all(len(m.cores) == len(m.blocks) for m in self.layers.values())

    def slot_members(self) -> dict[int, list[tuple[str, int]]]:
        """Per slot (in order of first use), the (layer, block index) pairs it holds."""
        out: dict[int, list[tuple[str, int]]] = {}
        for name, m in self.layers.items():
            for i, slot in enumerate(m.slots):
                out.setdefault(slot, []).append((name, i))
        return out

    def to_data(self) -> dict[str, Any]:
        return {"layers": {name: {"blocks": [b.to_data() for b in m.blocks], "slots": list(m.slots),
                                  "cores": [[c.chip, c.core, c.row, c.col] for c in m.cores]}
                           for name, m in self.layers.items()}}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Mapping:
        return cls({name: LayerMapping([Block.from_data(b) for b in m["blocks"]],
                                       [Core(*(int(v) for v in c)) for c in m.get("cores", [])],
                                       [int(v) for v in m.get("slots", [])])
                    for name, m in data.get("layers", {}).items()})

    @classmethod
    def of(cls, graph: Graph) -> Mapping:
        """The mapping stored in ``graph`` (GraphError when the graph was not partitioned)."""
        data = graph.metadata.get(keys.MAPPING)
        if data is None:
            raise GraphError("the graph has no mapping (run the partition pass)")
        return cls.from_data(data)

    def store(self, graph: Graph) -> None:
        graph.metadata[keys.MAPPING] = self.to_data()


def split(n: int, pieces: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into ``pieces`` contiguous parts whose sizes differ by at most one."""
    base, extra = divmod(n, pieces)
    bounds, start = [], 0
    for i in range(pieces):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def tiling(shape: tuple[int, int, int], dims: tuple[int, int, int]) -> list[Tile]:
    """Tiles of at most ``dims`` = (channels, rows, cols) covering a (C, H, W) map, channel-major."""
    cuts = [split(n, -(-n // t)) for n, t in zip(shape, dims, strict=True)]
    return [Tile(c0, c1, r0, r1, x0, x1) for c0, c1 in cuts[0] for r0, r1 in cuts[1] for x0, x1 in cuts[2]]
