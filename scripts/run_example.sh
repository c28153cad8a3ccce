#!/usr/bin/env bash
# Run the example workflows in a headless ComfyUI and write their PNGs to output/.
# Sets up .venv and ComfyUI first (scripts/setup_env.sh). Arguments go to scripts/run_example.py,
# e.g. `bash scripts/run_example.sh --model schnell` on a Mac with FLUX weights.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# shellcheck source=scripts/setup_env.sh
source "$REPO_ROOT/scripts/setup_env.sh"
setup_environment

banner "example workflows"
if [[ -f "$OPENBLAS_LIBRARY" ]]; then
    export LD_PRELOAD="$OPENBLAS_LIBRARY${LD_PRELOAD:+:$LD_PRELOAD}"
fi
cd "$REPO_ROOT"
"$VENV_PYTHON" scripts/run_example.py --comfyui-dir "$COMFYUI_DIR" "$@"
