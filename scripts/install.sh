#!/usr/bin/env bash
# Install snncc and everything it needs into ./.venv. Idempotent: returns at once when nothing changed.
#
# Order matters: torch 2.13.0 first (pip takes the local CPU wheel; any later request for "torch" is then already
# satisfied, so no CUDA packages are pulled), then the pinned dependencies, then lava-nc/lava-dl without their
# declared dependencies (they declare python<3.11 and old pins, but run here; see docs/install.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.snncc-installed
want=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/snncc" ]; then
  exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() {
  echo "[install] $1"
  shift
  if ! "$@" >>"$log" 2>&1; then
    echo "[install] failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' || {
  echo "[install] snncc needs Python >= 3.10 (found $("$PYTHON" --version))" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || step "creating $VENV" "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)
step "torch 2.13.0 (CPU)" "${PIP[@]}" torch==2.13.0
step "pinned dependencies" "${PIP[@]}" -r requirements/runtime.txt -r requirements/test.txt
step "lava-nc 0.10.0 and lava-dl 0.6.0" "${PIP[@]}" --no-deps --ignore-requires-python -r requirements/lava.txt
step "SNN libraries (test extras, no dependencies)" "${PIP[@]}" --no-deps -r requirements/libraries.txt
step "snncc (editable)" "${PIP[@]}" --no-deps -e .
"$VENV/bin/python" - <<'PY' || { echo "[install] an SNN library replaced the CPU torch or does not import" >&2; exit 1; }
import importlib, warnings
import torch
assert torch.__version__ == "2.13.0+cpu", f"torch is {torch.__version__}, not the CPU build 2.13.0+cpu"
warnings.simplefilter("ignore")
for name in ("snntorch", "norse.torch", "sinabs", "spikingjelly.activation_based.nir_exchange.to_nir",
             "rockpool.nn.modules", "nirtorch", "neurobench.benchmarks", "neurobench.metrics.workload"):
    importlib.import_module(name)
PY
"$VENV/bin/python" -c "from snncc.compat.lava import import_netx; import_netx()" || {
  echo "[install] lava-dl netx does not import" >&2; exit 1; }
echo "$want" >"$STAMP"
echo "[install] done: $VENV"
