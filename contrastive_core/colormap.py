"""Colour maps for heatmaps: 256-entry RGB tables taken from matplotlib."""

import functools

import mlx.core as mx

from .errors import check_finite, check_ndim
from .options import COLORMAPS

TABLE_SIZE = 256


@functools.lru_cache(maxsize=len(COLORMAPS))
def colormap_table(name: str) -> mx.array:
    """Return the matplotlib colour map `name` as an RGB table [256, 3] in [0, 1]."""
    if name not in COLORMAPS:
        raise ValueError(f"colormap must be one of {COLORMAPS}, got {name!r}.")
    import matplotlib  # imported here: only rendering a colour overlay needs it
    import numpy as np

    # Integer inputs index matplotlib's lookup table directly; column 3 (alpha) is dropped.
    rgba = matplotlib.colormaps[name].resampled(TABLE_SIZE)(np.arange(TABLE_SIZE))
    return mx.array(rgba[:, :3], dtype=mx.float32)


def apply_colormap(maps: mx.array, name: str) -> mx.array:
    """Colour maps [B, H, W] in [0, 1] (values outside are clipped) with colour map `name`: [B, H, W, 3]."""
    table = colormap_table(name)
    check_ndim("maps", maps, "batch, height, width")
    maps = maps.astype(mx.float32)
    check_finite(maps, "colour map input")

    # Same binning as matplotlib: floor(value * 256), with 1.0 in the last bin.
    index = mx.floor(mx.clip(maps, 0.0, 1.0) * TABLE_SIZE).astype(mx.int32)
    index = mx.minimum(index, TABLE_SIZE - 1)
    return mx.take(table, index, axis=0)  # [B, H, W, 3]
