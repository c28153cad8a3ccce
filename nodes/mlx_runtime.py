"""Clear errors for nodes run where MLX or mflux is not installed."""

import importlib
import platform

INSTALL_HINTS = {
    "mlx": "Install it into ComfyUI's Python: `pip install mlx` on an Apple Silicon Mac or on Windows "
    "(CPU, mlx 0.32 or newer), `pip install \"mlx[cpu]\"` on Linux.",
    "mflux": "Install it into ComfyUI's Python on an Apple Silicon Mac: `pip install mflux`. On Linux "
    "its dependencies pull CUDA builds; `pip install --no-deps mflux` next to `mlx[cpu]` runs, slowly, on the CPU.",
}


def require_module(module: str, purpose: str) -> None:
    """Raise RuntimeError naming the package when ``module`` is missing or fails to import."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        # A broken install fails here too, e.g. plain `mlx` on Linux: "libmlx.so: cannot open shared object".
        raise RuntimeError(
            f"{purpose} needs the Python package '{module}', which could not be imported on "
            f"{platform.system()} {platform.machine()} ({error}). {INSTALL_HINTS.get(module, '')}"
        ) from error
