"""ComfyUI progress bar and interrupt checks for long MLX work."""

import sys
from collections.abc import Callable


def step_reporter(total: int) -> Callable[[int, int], None]:
    """Return a callback for each finished step: it advances the bar and raises ComfyUI's interrupt.

    The interrupt exception derives from BaseException and is left to ComfyUI, which marks the
    prompt as interrupted. Outside a ComfyUI process (no comfy modules imported yet, e.g. in unit
    tests) the callback does nothing: importing them would parse ComfyUI's command line.
    """
    model_management = sys.modules.get("comfy.model_management")
    comfy_utils = sys.modules.get("comfy.utils")
    if model_management is None or comfy_utils is None:
        return lambda done, total: None

    model_management.throw_exception_if_processing_interrupted()
    progress_bar = comfy_utils.ProgressBar(total)

    def report(done: int, total: int) -> None:
        progress_bar.update_absolute(done, total)
        model_management.throw_exception_if_processing_interrupted()

    return report
