"""Input checks shared by the heatmap math, and the error raised for non-finite values."""

import math
import numbers

import mlx.core as mx


class NonFiniteError(ValueError):
    """Error for NaN or infinity found at a named stage of the heatmap computation."""


def check_finite(values: mx.array, stage: str) -> None:
    """Raise NonFiniteError naming `stage` when any value of `values` is NaN or infinite."""
    finite = mx.isfinite(values)
    if bool(mx.all(finite).item()):
        return

    bad_count = int(mx.sum(mx.logical_not(finite)).item())
    raise NonFiniteError(
        f"NaN or infinity in {stage} ({bad_count} of {values.size} values): check that the "
        "captured concept scores are finite (a float16 overflow in the model produces infinity) "
        "and that the exponent and temperature are moderate."
    )


def check_index(name: str, value: object, size: int) -> int:
    """Return `value` as an int after checking that it indexes a sequence of length `size`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in [0, {size - 1}], got {value!r}.")
    if not 0 <= value < size:
        raise ValueError(f"{name} must be in [0, {size - 1}], got {value}.")
    return int(value)


def check_positive(name: str, value: object) -> float:
    """Return `value` as a float after checking that it is a finite number greater than 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number greater than 0, got {value!r}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number greater than 0, got {value}.")
    return float(value)


def check_ndim(name: str, array: mx.array, axes: str) -> None:
    """Raise ValueError unless `array` has one non-empty dimension per comma-separated name in `axes`."""
    expected = len(axes.split(","))
    if array.ndim != expected:
        raise ValueError(
            f"{name} must have shape [{axes}] ({expected} dimensions), got shape {tuple(array.shape)}."
        )
    if 0 in array.shape:
        raise ValueError(f"{name} must have every dimension >= 1, got shape {tuple(array.shape)}.")
