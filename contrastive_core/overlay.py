"""Alpha-blend a coloured heatmap over an image."""

import math
import numbers

import mlx.core as mx

from .colormap import apply_colormap
from .errors import check_finite, check_ndim
from .resize import upsample

RGB_CHANNELS = 3


def overlay_heatmap(image: mx.array, heat: mx.array, colormap: str, alpha: float) -> mx.array:
    """Blend (1 - alpha) * image [B, H, W, 3] + alpha * colormap(heat [B or 1, h, w]): [B, H, W, 3] in [0, 1].

    A heat map of another size is resized to the image (bilinear). A batch of 1 on either side is
    broadcast to the other's batch size.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    check_ndim("image", image, "batch, height, width, channels")
    check_ndim("heat", heat, "batch, height, width")
    image_batch, height, width, channels = image.shape
    heat_batch = heat.shape[0]
    if channels != RGB_CHANNELS:
        raise ValueError(f"image must have {RGB_CHANNELS} (RGB) channels, got {channels}.")
    if heat_batch != image_batch and 1 not in (heat_batch, image_batch):
        raise ValueError(
            f"heat batch size {heat_batch} does not match image batch size {image_batch}; "
            "use equal batch sizes or a batch of 1 on one side."
        )
    image = image.astype(mx.float32)
    check_finite(image, "overlay input image")

    if tuple(heat.shape[1:]) != (height, width):
        heat = upsample(heat, height, width, method="bilinear")
    colour = apply_colormap(heat, colormap)  # [B or 1, H, W, 3]
    blended = (1.0 - alpha) * image + alpha * colour
    return mx.clip(blended, 0.0, 1.0)
