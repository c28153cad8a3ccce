#!/usr/bin/env bash
# Run the test suite: set up .venv and ComfyUI if needed (scripts/setup_env.sh), then run pytest
# with this script's arguments, e.g. `bash scripts/test.sh -k smoke` or
# `bash scripts/test.sh tests/integration -x -q`.
#
# Exits with pytest's status, except that "no tests collected" (pytest's status 5) is a failure.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# shellcheck source=scripts/setup_env.sh
source "$REPO_ROOT/scripts/setup_env.sh"
setup_environment

banner "pytest $*"
cd "$REPO_ROOT"

# The integration tests run once per ComfyUI release in COMFYUI_DIRS (newest first).
export COMFYUI_DIR COMFYUI_DIRS
# The pack's model loader offers its random-weight test model only when this is set.
export CONTRASTIVE_ATTENTION_TEST_MODEL=1
# Defines torchvision's operator schemas, which its CUDA-built extension cannot provide here.
export PYTHONPATH="$REPO_ROOT/scripts/sitecustomize${PYTHONPATH:+:$PYTHONPATH}"
if [[ -f "$OPENBLAS_LIBRARY" ]]; then
    export LD_PRELOAD="$OPENBLAS_LIBRARY${LD_PRELOAD:+:$LD_PRELOAD}"
    log "LD_PRELOAD=$LD_PRELOAD"
fi
log "COMFYUI_DIRS=$COMFYUI_DIRS"

status=0
"$VENV_PYTHON" -m pytest "$@" || status=$?
if [[ "$status" -eq 5 ]]; then
    echo "error: pytest collected no tests (arguments: $*)" >&2
    exit 1
fi
exit "$status"
