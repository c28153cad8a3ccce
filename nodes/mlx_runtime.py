"""Clear errors for nodes run where MLX or mflux is not installed."""

import importlib
import platform

INSTALL_HINT = (
    "Install it into ComfyUI's Python: `pip install mlx mflux` on an Apple Silicon Mac, "
    "`pip install \"mlx[cpu]\"` on Linux. MLX does not run on Windows."
)


def require_module(module: str, purpose: str) -> None:
    """Raise RuntimeError naming the package when ``module`` is missing or fails to import."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        # A broken install fails here too, e.g. plain `mlx` on Linux: "libmlx.so: cannot open shared object".
        raise RuntimeError(
            f"{purpose} needs the Python package '{module}', which could not be imported on "
            f"{platform.system()} {platform.machine()} ({error}). {INSTALL_HINT}"
        ) from error
