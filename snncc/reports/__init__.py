"""Reports: resources, energy and fidelity, as JSON and Markdown."""

from .energy import energy_report
from .render import render_markdown, render_summary
from .resources import resource_report

__all__ = ["energy_report", "render_markdown", "render_summary", "resource_report"]
