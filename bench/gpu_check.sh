#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py; docs/gpu_check.md).
#   bash bench/gpu_check.sh --prepare     here, with network: writes resources/gpu_check/
#   bash bench/gpu_check.sh [ARGS]        on the GPU machine: installs the carried wheels, runs
# ARGS go to bench/gpu_check.py (--steps, --budget-s, --dry, --out; default output folder: $OUT).
set -uo pipefail
cd "$(dirname "$0")/.."
assets=resources/gpu_check
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ "${1:-}" = "--prepare" ]; then
  shift
  PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec python3 bench/gpu_check.py --prepare "$@"
fi

if compgen -G "$assets/wheels/*.whl" >/dev/null; then
  if python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/gpu_check_site "$assets"/wheels/*.whl; then
    export PYTHONPATH="/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "gpu_check.sh: installing $assets/wheels failed; the Snakemake step will say why it is skipped"
  fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
exec python3 bench/gpu_check.py "$@"
