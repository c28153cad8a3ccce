"""ComfyUI progress bar and interrupt checks for long MLX work."""

from collections.abc import Callable


def step_reporter(total: int) -> Callable[[int, int], None]:
    """Return a callback for each finished step: it raises ComfyUI's interrupt and advances the bar.

    The interrupt exception derives from BaseException and is left to ComfyUI, which marks the
    prompt as interrupted. Outside a ComfyUI process the callback does nothing.
    """
    try:
        import comfy.model_management as model_management
        import comfy.utils
    except ImportError:
        return lambda done, total: None

    model_management.throw_exception_if_processing_interrupted()
    progress_bar = comfy.utils.ProgressBar(total)

    def report(done: int, total: int) -> None:
        progress_bar.update_absolute(done, total)
        model_management.throw_exception_if_processing_interrupted()

    return report
