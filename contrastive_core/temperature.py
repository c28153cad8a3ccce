"""Temperature softmax over the patches of each map, rescaled so that each map peaks at 1."""

import logging

import mlx.core as mx

from .errors import check_finite, check_ndim, check_positive

logger = logging.getLogger(__name__)

# A row whose max - min is at most this fraction of its largest magnitude counts as constant.
CONSTANT_RELATIVE_TOLERANCE = 1e-6


def temperature_softmax(maps: mx.array, temperature: float) -> mx.array:
    """Softmax each row of maps [B, P] over patches at `temperature`, divided by its max: [B, P] in [0, 1].

    Each row is first divided by its largest magnitude, so that the temperature acts the same on
    every image. The softmax divided by its maximum equals exp((z - max z) / temperature), which is
    what is computed. A constant row becomes all zeros, with a logged warning.
    """
    temperature = check_positive("temperature", temperature)
    check_ndim("maps", maps, "batch, patches")
    maps = maps.astype(mx.float32)
    check_finite(maps, "temperature softmax input")

    # Only per-row reductions and one chain of element-wise operations touch the [B, P] values, so a
    # full-resolution map needs one extra map-sized buffer (MLX reuses it along the chain).
    row_max = mx.max(maps, axis=1, keepdims=True)  # [B, 1]
    row_min = mx.min(maps, axis=1, keepdims=True)
    peak = mx.maximum(row_max, -row_min)  # [B, 1], the largest magnitude
    safe_peak = mx.where(peak > 0, peak, 1.0)
    spread = (row_max - row_min) / safe_peak  # max z - min z, for z = maps / peak in [-1, 1]
    constant = spread <= CONSTANT_RELATIVE_TOLERANCE * (peak / safe_peak)

    constant_count = int(mx.sum(constant).item())
    if constant_count:
        logger.warning(
            "%d of %d maps are constant before the temperature softmax; returning zeros for them.",
            constant_count,
            maps.shape[0],
        )
    # z - max z for z = maps / peak: the maximum goes through the same division as its row, so it
    # maps to exp(0) = 1 exactly. Dividing (rather than multiplying by 1 / peak) cannot overflow for
    # tiny peaks. An infinite offset turns a constant row into zeros.
    offset = mx.where(constant, mx.inf, row_max / safe_peak)
    return mx.exp((maps / safe_peak - offset) / temperature)
