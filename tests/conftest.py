"""Test configuration: in CI and under the README's test command (scripts/test.sh sets SNNCC_DERANDOMIZE),
hypothesis runs derandomized, so that a run is reproducible from its log and the randomized tests' coverage checks
(every behaviour of interest met by some example) see the same examples every time; plain ``pytest`` explores."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") or os.environ.get("SNNCC_DERANDOMIZE"):
    settings.load_profile("ci")
