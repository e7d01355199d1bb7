"""The core map: every chip's mesh of cores as a PNG, each core coloured by its fullest limit.

Read at a glance: dark cores are nearly empty, bright ones full; the letter on a core names the limit that binds it
(n neurons, m memory, i input axons, o output axons, g neuron groups); grey cells are cores the mapping leaves free.
Drawn from the resource report (its ``cores``), so it shows exactly what the report counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CORE_MAP_FILE = "cores.png"
MAX_CHIPS_DRAWN = 16  # a larger system is drawn chip by chip up to this many; the title says how many are left out
LETTERS = {"neurons": "n", "memory": "m", "input_axons": "i", "output_axons": "o", "neuron_groups": "g"}


def core_grid(resources: dict[str, Any], mesh: tuple[int, int]) -> dict[int, np.ndarray]:
    """Per chip used: a (rows, cols) array of each core's fullest utilisation (NaN: core not used)."""
    grids: dict[int, np.ndarray] = {}
    for core in resources["cores"]:
        grid = grids.setdefault(core["chip"], np.full(mesh, np.nan))
        row, col = core["mesh"]
        grid[row, col] = max(core["utilisation"].values())
    return dict(sorted(grids.items()))


def plot_core_map(resources: dict[str, Any], mesh: tuple[int, int], path: str | Path) -> Path:
    """Write the core map of a resource report (``mesh``: the target's rows x cols per chip) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = core_grid(resources, mesh)
    chips = list(grids)[:MAX_CHIPS_DRAWN]
    cols = min(4, len(chips))
    rows = -(-len(chips) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols * mesh[1] / max(mesh) + 1.2, 3.0 * rows + 0.8),
                             squeeze=False)
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("0.85")
    letters = {(c["chip"], *c["mesh"]): LETTERS.get(c["binding_limit"], "?") for c in resources["cores"]}
    image = None
    for ax, chip in zip(axes.ravel(), chips, strict=False):
        grid = grids[chip]
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0)
        used = int(np.isfinite(grid).sum())
        ax.set_title(f"chip {chip}: {used} cores, mean fill {100 * np.nanmean(grid):.0f}%", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if grid.size <= 256:
            for (r, c), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    ax.text(c, r, letters[chip, r, c], ha="center", va="center", fontsize=6,
                            color="black" if v > 0.6 else "white")
    for ax in axes.ravel()[len(chips):]:
        ax.axis("off")
    left_out = len(grids) - len(chips)
    fig.suptitle(f"{resources['cores_used']} cores used, lower bound {resources['cores_lower_bound']}"
                 + (f" ({left_out} more chips not drawn)" if left_out else ""), fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="fullest limit (share of a core)")
    out = Path(path)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
