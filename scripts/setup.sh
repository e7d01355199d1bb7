#!/usr/bin/env bash
# The whole set-up on a fresh machine: install into ./.venv, then compile the shipped digits example for Loihi 2
# and verify it (reference simulator == Lava, bit for bit). Quick when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/snncc compile examples/digits/model.pt --target loihi2 -o build/digits
.venv/bin/snncc verify build/digits --samples 8
