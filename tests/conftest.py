"""Test configuration: in CI, hypothesis runs derandomized so that a run is reproducible from its log."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
