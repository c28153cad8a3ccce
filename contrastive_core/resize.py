"""Resize patch-grid maps to pixel size, with bilinear or nearest interpolation."""

import numbers

import mlx.core as mx

from .errors import check_finite, check_ndim
from .options import UPSAMPLE_METHODS


def upsample(maps: mx.array, height: int, width: int, method: str = "bilinear") -> mx.array:
    """Resize maps [B, h, w] to [B, height, width] with half-pixel centres; also downsamples.

    "bilinear" matches torch.nn.functional.interpolate(mode="bilinear", align_corners=False)
    (compared with torch 2.13), edges clamped;
    "nearest" takes the source pixel whose centre is nearest (torch's "nearest-exact").
    """
    for name, size in (("height", height), ("width", width)):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {size!r}.")
    if method not in UPSAMPLE_METHODS:
        raise ValueError(f"method must be one of {UPSAMPLE_METHODS}, got {method!r}.")
    check_ndim("maps", maps, "batch, grid height, grid width")
    maps = maps.astype(mx.float32)
    check_finite(maps, "upsample input")

    resize_axis = _resize_axis_nearest if method == "nearest" else _resize_axis_bilinear
    rows = resize_axis(maps, int(height), axis=1)  # [B, height, w]
    return resize_axis(rows, int(width), axis=2)  # [B, height, width]


def _resize_axis_nearest(values: mx.array, size: int, axis: int) -> mx.array:
    source_size = values.shape[axis]
    # Source index floor((i + 0.5) * source_size / size), in exact integer arithmetic.
    target = mx.arange(size, dtype=mx.int64)
    index = ((2 * target + 1) * source_size) // (2 * size)
    return mx.take(values, mx.minimum(index, source_size - 1), axis=axis)


def _resize_axis_bilinear(values: mx.array, size: int, axis: int) -> mx.array:
    source_size = values.shape[axis]

    # Source coordinate (i + 0.5) * source_size / size - 0.5 = numerator / (2 * size), clamped at 0.
    target = mx.arange(size, dtype=mx.int64)
    numerator = mx.maximum((2 * target + 1) * source_size - size, 0)
    lower = numerator // (2 * size)
    fraction = ((numerator - lower * 2 * size) / (2 * size)).astype(mx.float32)
    lower = mx.minimum(lower, source_size - 1)
    upper = mx.minimum(lower + 1, source_size - 1)

    weight_shape = [1] * values.ndim
    weight_shape[axis] = size
    fraction = fraction.reshape(weight_shape)
    below = mx.take(values, lower, axis=axis)
    above = mx.take(values, upper, axis=axis)
    return below + (above - below) * fraction
