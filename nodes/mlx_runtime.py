"""Clear errors for nodes run where MLX or mflux is not installed."""

import importlib.util
import platform

INSTALL_HINT = (
    "Install it into ComfyUI's Python: `pip install mlx mflux` on an Apple Silicon Mac, "
    "`pip install \"mlx[cpu]\"` on Linux. MLX does not run on Windows."
)


def require_module(module: str, purpose: str) -> None:
    """Raise RuntimeError naming the missing package when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        raise RuntimeError(
            f"{purpose} needs the Python package '{module}', which is not installed "
            f"({platform.system()} {platform.machine()}). {INSTALL_HINT}"
        )
