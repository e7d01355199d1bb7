"""Reports: resources, energy and fidelity, as JSON and Markdown, and the core map as a PNG."""

from .core_map import CORE_MAP_FILE, plot_core_map
from .energy import energy_report
from .render import render_markdown, render_summary
from .resources import resource_report

__all__ = ["CORE_MAP_FILE", "energy_report", "plot_core_map", "render_markdown", "render_summary", "resource_report"]
