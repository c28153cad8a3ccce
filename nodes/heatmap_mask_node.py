"""Heatmap To Mask node: the A/B renderings of one captured heatmap."""

from comfy_api.latest import io

from ..contrastive_core.options import DEFAULT_TEMPERATURE, UPSAMPLE_METHODS
from .mlx_runtime import require_module
from .types import ConceptHeatmapType

RENDERINGS = ("plain", "competition", "contrast")


class HeatmapToMask(io.ComfyNode):
    """Renders a captured heatmap as the plain, competition or contrast map, without sharpening."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_HeatmapToMask",
            display_name="Heatmap To Mask",
            category="concept attention",
            description=(
                "Turns a captured heatmap into a MASK for side-by-side comparison. plain: the concept's own "
                "attention, min-max normalised (standard concept attention). competition: softmax across all "
                "concepts, per layer and step, then averaged (ConceptAttention's map). contrast: concept minus "
                "the mean anti-concept, temperature softmax. With one anti-concept, competition and contrast "
                "rank the patches alike; they differ with several."
            ),
            inputs=[
                ConceptHeatmapType.Input("heatmap", tooltip="The heatmap output of Contrastive Concept Attention."),
                io.Combo.Input("rendering", options=list(RENDERINGS), default="contrast", tooltip="Which map to render."),
                io.Float.Input(
                    "temperature",
                    default=DEFAULT_TEMPERATURE,
                    min=0.001,
                    max=10.0,
                    step=0.001,
                    tooltip="Softmax temperature of the contrast rendering; lower is sharper. Not used by plain or competition.",
                ),
                io.Combo.Input(
                    "upsample",
                    options=list(UPSAMPLE_METHODS),
                    default="bilinear",
                    tooltip="How the patch grid (one cell per 16 x 16 pixels) is resized to the image: smooth or blocky.",
                ),
            ],
            outputs=[io.Mask.Output(display_name="mask", tooltip="The chosen rendering at the image size, in 0..1.")],
        )

    @classmethod
    def execute(cls, heatmap, rendering: str, temperature: float, upsample: str) -> io.NodeOutput:
        require_module("mlx", "Heatmap To Mask")
        import mlx.core as mx

        from ..contrastive_core.heatmap import heatmap_items, render_competition, render_contrast, render_plain
        from ..contrastive_core.resize import upsample as upsample_maps
        from .tensor_edge import mlx_to_torch

        if rendering not in RENDERINGS:
            raise ValueError(f"rendering must be one of {', '.join(RENDERINGS)}, got {rendering!r}.")
        items = heatmap_items(heatmap)
        if rendering == "plain":
            grids = [render_plain(item) for item in items]
        elif rendering == "competition":
            grids = [render_competition(item) for item in items]
        else:
            grids = [render_contrast(item, exponent=1.0, temperature=temperature) for item in items]
        masks = upsample_maps(mx.stack(grids), items[0].image_height, items[0].image_width, upsample)  # [B, H, W]
        return io.NodeOutput(mlx_to_torch(masks))
