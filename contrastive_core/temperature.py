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

    peak = mx.max(mx.abs(maps), axis=1, keepdims=True)  # [B, 1], max over patches
    z = mx.where(peak > 0, maps / mx.where(peak > 0, peak, 1.0), maps)  # [B, P] in [-1, 1]
    z_max = mx.max(z, axis=1, keepdims=True)  # [B, 1]
    spread = z_max - mx.min(z, axis=1, keepdims=True)  # [B, 1]
    constant = spread <= CONSTANT_RELATIVE_TOLERANCE * mx.max(mx.abs(z), axis=1, keepdims=True)

    constant_count = int(mx.sum(constant).item())
    if constant_count:
        logger.warning(
            "%d of %d maps are constant before the temperature softmax; returning zeros for them.",
            constant_count,
            maps.shape[0],
        )
    heat = mx.exp((z - z_max) / temperature)  # [B, P], softmax over patches divided by its max
    return mx.where(constant, 0.0, heat)
