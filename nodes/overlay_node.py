"""Heatmap Overlay node: colour a heatmap and alpha-blend it over an image."""

import math
import numbers

from comfy_api.latest import io

from ..contrastive_core.options import COLORMAPS, DEFAULT_ALPHA, DEFAULT_COLORMAP
from .input_checks import check_one_source
from .mlx_runtime import require_module
from .types import ConceptHeatmapType

NODE_NAME = "Heatmap Overlay"

DESCRIPTION = (
    "Colours a heatmap with a colour map and blends it over an image. Connect either a MASK (such as "
    "the output of Spectral Sharpen) or a HEATMAP, not both. The heatmap is resized to the image "
    "(bilinear, height and width separately). A heatmap batch of 1 is applied to every image, an image "
    "batch of 1 is drawn under every heatmap, and equal batches are paired item by item. RGBA images "
    "keep their alpha channel, and grayscale images come out as RGB."
)


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not math.isfinite(alpha):
        raise ValueError(f"{NODE_NAME}: alpha must be a number in [0, 1], got {alpha!r}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{NODE_NAME}: alpha must be in [0, 1], got {alpha}.")
    return float(alpha)


def _check_batches(image_batch_size: int, heat_batch_size: int, heat_name: str) -> None:
    if heat_batch_size in (1, image_batch_size) or image_batch_size == 1:
        return
    raise ValueError(
        f"{NODE_NAME}: {heat_name} batch size {heat_batch_size} does not match image batch size "
        f"{image_batch_size}. Use equal batch sizes or a batch of 1 on one side."
    )


class HeatmapOverlay(io.ComfyNode):
    """Blends a colour-mapped MASK or rendered ConceptHeatmap over an IMAGE."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_HeatmapOverlay",
            display_name=NODE_NAME,
            category="concept attention",
            description=DESCRIPTION,
            inputs=[
                io.Image.Input(
                    "image",
                    tooltip="The image to draw on: RGB, RGBA (alpha is kept) or grayscale (output as RGB).",
                ),
                io.Mask.Input(
                    "mask",
                    optional=True,
                    tooltip=(
                        "Heatmap as a MASK in 0..1 (values outside are clipped), of any size. Batch 1 or "
                        "the image's batch size. Connect this or heatmap, not both."
                    ),
                ),
                ConceptHeatmapType.Input(
                    "heatmap",
                    optional=True,
                    tooltip=(
                        "Concept scores from Contrastive Concept Attention, rendered as the contrast map with "
                        "the default settings (spatial mode, exponent 2, temperature 0.1). For other settings, "
                        "put Spectral Sharpen in between and connect its mask. Connect this or mask, not both."
                    ),
                ),
                io.Combo.Input(
                    "colormap",
                    options=list(COLORMAPS),
                    default=DEFAULT_COLORMAP,
                    tooltip="Matplotlib colour map for heatmap values 0..1 (jet: 0 is dark blue, 1 is dark red).",
                ),
                io.Float.Input(
                    "alpha",
                    default=DEFAULT_ALPHA,
                    min=0.0,
                    max=1.0,
                    step=0.05,
                    tooltip="Opacity of the coloured heatmap: 0 shows only the image, 1 only the heatmap.",
                ),
            ],
            outputs=[
                io.Image.Output(
                    display_name="image",
                    tooltip="The blended image [batch, height, width, 3], or 4 channels when the input is RGBA.",
                ),
            ],
        )

    @classmethod
    def execute(
        cls,
        image: object,
        mask: object | None = None,
        heatmap: object | None = None,
        colormap: str = DEFAULT_COLORMAP,
        alpha: float = DEFAULT_ALPHA,
    ) -> io.NodeOutput:
        require_module("mlx", NODE_NAME)
        check_one_source(NODE_NAME, mask, heatmap)
        if colormap not in COLORMAPS:
            raise ValueError(f"{NODE_NAME}: colormap must be one of {COLORMAPS}, got {colormap!r}.")
        alpha = _check_alpha(alpha)

        from .tensor_edge import image_batch

        image = image_batch(image, "image")
        heat, heat_name = _heat_maps(mask, heatmap)
        _check_batches(image.shape[0], heat.shape[0], heat_name)
        return io.NodeOutput(_blend(image, heat, colormap, alpha))


def _heat_maps(mask: object | None, heatmap: object | None):
    """Return the heat maps [B, h, w] as a float32 MLX array, and the name of the input they came from."""
    from ..contrastive_core.errors import check_finite
    import mlx.core as mx

    from ..contrastive_core.heatmap import heatmap_items, render_contrast
    from .tensor_edge import mask_batch, torch_to_mlx

    if mask is not None:
        heat = torch_to_mlx(mask_batch(mask, "mask"))  # [B, h, w]
        check_finite(heat, f"{NODE_NAME} mask input")
        return heat, "mask"

    items = heatmap_items(heatmap, f"{NODE_NAME}: heatmap")
    return mx.stack([render_contrast(item) for item in items]), "heatmap"  # [B, h, w]


def _blend(image, heat, colormap: str, alpha: float):
    """Blend the RGB part of image [B, H, W, C] with the coloured heat, and append the image's alpha channel if any."""
    import mlx.core as mx

    from ..contrastive_core.errors import check_finite
    from ..contrastive_core.overlay import overlay_heatmap
    from .tensor_edge import mlx_to_torch, split_rgb_alpha, torch_to_mlx

    rgb, image_alpha = split_rgb_alpha(image)
    blended = overlay_heatmap(torch_to_mlx(rgb), heat, colormap, alpha)  # [B', H, W, 3]
    if image_alpha is not None:
        opacity = torch_to_mlx(image_alpha)  # [B, H, W, 1]
        opacity = mx.broadcast_to(opacity, (*blended.shape[:-1], 1))
        blended = mx.concatenate([blended, mx.clip(opacity, 0.0, 1.0)], axis=-1)  # [B', H, W, 4]
    check_finite(blended, f"{NODE_NAME} output")
    return mlx_to_torch(blended)
