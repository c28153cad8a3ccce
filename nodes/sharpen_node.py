"""Spectral Sharpen node: re-render a heatmap (or sharpen a mask) without re-running generation."""

import math
import numbers

from comfy_api.latest import io

from ..contrastive_core.options import DEFAULT_EXPONENT, DEFAULT_TEMPERATURE, SHARPEN_MODES, UPSAMPLE_METHODS
from .input_checks import check_one_source
from .mlx_runtime import require_module
from .types import ConceptHeatmapType

NODE_NAME = "Spectral Sharpen"
EXPONENT_RANGE = (0.05, 8.0)
TEMPERATURE_RANGE = (0.001, 10.0)

DESCRIPTION = (
    "Sharpens a contrastive heatmap (concept minus anti-concept) spectrally and with a temperature "
    "softmax, and returns it as a MASK at the image size. Connect either a HEATMAP (from Contrastive "
    "Concept Attention) or a MASK, not both. Changing these settings does not re-run the generation. "
    "Exponent 1 skips the spectral step (the temperature softmax still applies). A larger exponent keeps the dominant singular modes, damps "
    "the weak ones and can change which patches rank highest. The temperature only changes the look and "
    "any fixed-threshold mask, never the ranking of patches."
)


def _check_range(name: str, value: object, allowed: tuple[float, float]) -> float:
    low, high = allowed
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{NODE_NAME}: {name} must be a number in [{low}, {high}], got {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"{NODE_NAME}: {name} must be in [{low}, {high}], got {value}.")
    return float(value)


def _check_choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{NODE_NAME}: {name} must be one of {options}, got {value!r}.")
    return str(value)


class SpectralSharpen(io.ComfyNode):
    """Renders a ConceptHeatmap (or sharpens a MASK) with spectral sharpening and a temperature softmax."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_SpectralSharpen",
            display_name=NODE_NAME,
            category="concept attention",
            description=DESCRIPTION,
            inputs=[
                ConceptHeatmapType.Input(
                    "heatmap",
                    optional=True,
                    tooltip=(
                        "Concept scores from Contrastive Concept Attention. The node renders concept minus "
                        "anti-concepts on the patch grid and upsamples it to the generated image size. "
                        "Connect this or mask, not both."
                    ),
                ),
                io.Mask.Input(
                    "mask",
                    optional=True,
                    tooltip=(
                        "Any MASK [batch, height, width]. Each batch item is sharpened as its own "
                        "height x width matrix (spatial mode only) and keeps its size. Connect this or "
                        "heatmap, not both."
                    ),
                ),
                io.Float.Input(
                    "exponent",
                    default=DEFAULT_EXPONENT,
                    min=EXPONENT_RANGE[0],
                    max=EXPONENT_RANGE[1],
                    step=0.05,
                    tooltip=(
                        "Power applied to the singular values, relative to the largest one. 1 is the "
                        "identity (no spectral sharpening). Larger values keep the dominant modes, damp "
                        "the weak ones and can re-rank patches. Values below 1 flatten the spectrum."
                    ),
                ),
                io.Combo.Input(
                    "mode",
                    options=list(SHARPEN_MODES),
                    default=SHARPEN_MODES[0],
                    tooltip=(
                        "spatial: the map as one grid-height x grid-width matrix. Its low-rank modes favour "
                        "separable, box-like shapes. consensus: the stack of per-(layer, step) maps as one "
                        "matrix, keeping modes that the layers and steps share (needs a heatmap, not a mask)."
                    ),
                ),
                io.Float.Input(
                    "temperature",
                    default=DEFAULT_TEMPERATURE,
                    min=TEMPERATURE_RANGE[0],
                    max=TEMPERATURE_RANGE[1],
                    step=0.001,
                    tooltip=(
                        "Softmax temperature over the patches of the map scaled to [-1, 1]. Lower is "
                        "sharper. Monotone: it changes the look and any fixed-threshold mask, never the "
                        "ranking of patches."
                    ),
                ),
                io.Combo.Input(
                    "upsample",
                    options=list(UPSAMPLE_METHODS),
                    default=UPSAMPLE_METHODS[0],
                    tooltip=(
                        "How a heatmap's patch grid (16 x 16 pixels per patch) is resized to the image: "
                        "bilinear is smooth, nearest shows the patches. A mask input keeps its own size, so "
                        "this setting does not apply to it."
                    ),
                ),
            ],
            outputs=[
                io.Mask.Output(
                    display_name="heatmap mask",
                    tooltip="Sharpened heatmap [batch, height, width] in 0..1, at the image size (heatmap input) or the mask size.",
                ),
                ConceptHeatmapType.Output(
                    display_name="heatmap",
                    tooltip=(
                        "The input heatmap, unchanged, for chaining more nodes. Empty (None) when the input "
                        "is a mask, and a node fed from it then reports that its heatmap is missing."
                    ),
                ),
            ],
        )

    @classmethod
    def execute(
        cls,
        heatmap: object | None = None,
        mask: object | None = None,
        exponent: float = DEFAULT_EXPONENT,
        mode: str = SHARPEN_MODES[0],
        temperature: float = DEFAULT_TEMPERATURE,
        upsample: str = UPSAMPLE_METHODS[0],
    ) -> io.NodeOutput:
        require_module("mlx", NODE_NAME)
        check_one_source(NODE_NAME, mask, heatmap)
        exponent = _check_range("exponent", exponent, EXPONENT_RANGE)
        temperature = _check_range("temperature", temperature, TEMPERATURE_RANGE)
        mode = _check_choice("mode", mode, SHARPEN_MODES)
        upsample = _check_choice("upsample", upsample, UPSAMPLE_METHODS)
        if mask is not None and mode != "spatial":
            raise ValueError(
                f"{NODE_NAME}: mode {mode!r} needs a heatmap input, because it sharpens the per-layer and "
                "per-step maps, and a mask has only one map per batch item. Use mode 'spatial' for a mask."
            )

        if heatmap is not None:
            heat = _render_heatmap(heatmap, exponent, mode, temperature, upsample)
        else:
            heat = _sharpen_masks(mask, exponent, temperature)
        return io.NodeOutput(_to_mask_output(heat), heatmap)


def _render_heatmap(heatmap: object, exponent: float, mode: str, temperature: float, method: str):
    """Render each heatmap's contrast map at the image size: [batch, image height, image width]."""
    import mlx.core as mx

    from ..contrastive_core.heatmap import heatmap_items, render_contrast
    from ..contrastive_core.resize import upsample as upsample_maps

    items = heatmap_items(heatmap, f"{NODE_NAME}: heatmap")
    grids = mx.stack([render_contrast(item, exponent=exponent, mode=mode, temperature=temperature) for item in items])
    return upsample_maps(grids, items[0].image_height, items[0].image_width, method=method)


def _sharpen_masks(mask: object, exponent: float, temperature: float):
    """Sharpen each item of a MASK as its own matrix, then apply the temperature softmax: [B, H, W]."""
    import mlx.core as mx

    from ..contrastive_core.errors import check_finite
    from ..contrastive_core.spectral import sharpen_spatial
    from ..contrastive_core.temperature import temperature_softmax
    from .tensor_edge import mask_batch, torch_to_mlx

    maps = torch_to_mlx(mask_batch(mask, "mask"))  # [B, H, W] float32
    check_finite(maps, f"{NODE_NAME} mask input")
    batch, height, width = maps.shape

    # Exponent 1 is the identity, so the SVD is skipped. Each item is evaluated on its own, so that
    # the peak memory is that of one map's SVD, not of the whole batch's.
    if exponent != 1.0:
        sharpened = []
        for index in range(batch):
            item = maps.reshape(height, width) if batch == 1 else maps[index]
            sharpened.append(sharpen_spatial(item, exponent))
            del item
            mx.eval(sharpened[-1])
        # A batch of 1 is only reshaped, because stacking would copy the full-resolution map.
        maps = sharpened[0][None] if batch == 1 else mx.stack(sharpened)
        del sharpened
    heat = temperature_softmax(maps.reshape(batch, height * width), temperature)  # [B, H*W]
    return heat.reshape(batch, height, width)


def _to_mask_output(heat):
    """Clip to [0, 1], check that no NaN survived and convert to a torch MASK."""
    import mlx.core as mx

    from ..contrastive_core.errors import check_finite
    from .tensor_edge import mlx_to_torch

    heat = mx.clip(heat, 0.0, 1.0)
    check_finite(heat, f"{NODE_NAME} output")
    return mlx_to_torch(heat)
