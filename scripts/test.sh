#!/usr/bin/env bash
# Run the test suite (installs first if needed). Extra arguments go to pytest, e.g. -k quantize or -m slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
