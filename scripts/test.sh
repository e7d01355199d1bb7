#!/usr/bin/env bash
# Run the test suite (installs first if needed) over SNNCC_TEST_WORKERS (2) processes. Extra arguments go to pytest,
# e.g. -k quantize or -m slow (SNNCC_TEST_WORKERS=0: one process, for -s output in order).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
# two workers (pytest-xdist): the suite took 13:10 in one process and 9:50 in two on this 2-core machine
# the simulator on one thread per worker: xdist's processes are the parallelism (tests pass threads= to test the rest)
SNNCC_THREADS=${SNNCC_THREADS:-1} SNNCC_DERANDOMIZE=1 exec .venv/bin/python -m pytest -q -n "${SNNCC_TEST_WORKERS:-2}" "$@"
