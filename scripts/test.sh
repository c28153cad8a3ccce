#!/usr/bin/env bash
# Run the test suite: set up .venv and ComfyUI if needed (scripts/setup_env.sh), then run pytest
# with this script's arguments, e.g. `bash scripts/test.sh -k smoke` or
# `bash scripts/test.sh tests/integration -x -q`.
#
# Before that run, another pytest run checks tests/capture against the oldest supported mflux
# release (MFLUX_OLDEST_VERSION in scripts/setup_env.sh), with its folder first on PYTHONPATH.
# The venv keeps the current mflux. The environment variable TEST_OLDEST_MFLUX chooses when that
# extra run happens:
#   auto   only when the script gets no arguments, as in CI (the default)
#   1      always, also after a run with arguments
#   0      never
#
# Exits with a failing run's status, or 0 when every run passed. "No tests collected"
# (pytest's status 5) counts as a failure, with status 1.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEST_OLDEST_MFLUX="${TEST_OLDEST_MFLUX:-auto}"
case "$TEST_OLDEST_MFLUX" in
    auto | 0 | 1) ;;
    *)
        echo "error: TEST_OLDEST_MFLUX must be auto, 0 or 1, got '$TEST_OLDEST_MFLUX'" >&2
        exit 2
        ;;
esac

# shellcheck source=scripts/setup_env.sh
source "$REPO_ROOT/scripts/setup_env.sh"
setup_environment

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

# Runs pytest with the given environment assignments and arguments, and stores its status in
# PYTEST_STATUS, with "no tests collected" (5) turned into 1.
run_pytest() {
    PYTEST_STATUS=0
    env "$@" || PYTEST_STATUS=$?
    if [[ "$PYTEST_STATUS" -eq 5 ]]; then
        echo "error: pytest collected no tests (command: $*)" >&2
        PYTEST_STATUS=1
    fi
}

# The capture tests against the oldest mflux run first, so that the last lines of the output are the
# summary of the full run.
oldest_status=0
if [[ "$TEST_OLDEST_MFLUX" == 1 || ("$TEST_OLDEST_MFLUX" == auto && "$#" -eq 0) ]]; then
    # pytest's header names the mflux release and folder that the tests import.
    banner "pytest tests/capture against mflux $MFLUX_OLDEST_VERSION, the oldest supported release"
    started="$SECONDS"
    run_pytest PYTHONPATH="$MFLUX_OLDEST_DIR:$PYTHONPATH" "$VENV_PYTHON" -m pytest tests/capture
    oldest_status="$PYTEST_STATUS"
    log "mflux $MFLUX_OLDEST_VERSION run: status $oldest_status, $((SECONDS - started)) s"
fi

# tests/native imports one ComfyUI in-process (COMFYUI_DIR, the newest release), while the server
# tests run against every release. Without arguments, as in CI, tests/native also runs in-process
# against each older release.
older_status=0
if [[ "$#" -eq 0 ]]; then
    for older_dir in "${COMFYUI_DIR_LIST[@]:1}"; do
        banner "pytest tests/native against $older_dir"
        run_pytest COMFYUI_DIR="$older_dir" "$VENV_PYTHON" -m pytest tests/native
        if [[ "$PYTEST_STATUS" -ne 0 ]]; then
            older_status="$PYTEST_STATUS"
            echo "error: tests/native failed against $older_dir (status $older_status)" >&2
        fi
    done
fi

banner "pytest $*"
run_pytest "$VENV_PYTHON" -m pytest "$@"
main_status="$PYTEST_STATUS"

if [[ "$oldest_status" -ne 0 ]]; then
    echo "error: the capture tests failed against mflux $MFLUX_OLDEST_VERSION (status $oldest_status); see above" >&2
    exit "$oldest_status"
fi
if [[ "$older_status" -ne 0 ]]; then
    echo "error: tests/native failed against an older ComfyUI release (status $older_status); see above" >&2
    exit "$older_status"
fi
exit "$main_status"
