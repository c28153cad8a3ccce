"""Contrastive Concept Attention node: generate with FLUX and capture concept heatmaps in one pass."""

from comfy_api.latest import io

from ..contrastive_core.options import DEFAULT_TEMPERATURE
from .capture_inputs import MAX_SEED, concept_inputs, selection_inputs
from .mlx_runtime import require_module
from .progress import step_reporter
from .types import ConceptHeatmapType, MfluxModelType

MAX_SIZE = 4096


def _inputs() -> list[io.Input]:
    return [
        MfluxModelType.Input("model", tooltip="A FLUX model from the Load FLUX (mflux) node."),
        io.String.Input("prompt", multiline=True, default="a dragon breathing fire on a mountain", tooltip="What to generate."),
        *concept_inputs(),
        io.Int.Input("seed", default=0, min=0, max=MAX_SEED, control_after_generate=True, tooltip="Noise seed of the generation."),
        io.Int.Input("width", default=1024, min=16, max=MAX_SIZE, step=16, tooltip="Image width in pixels; rounded to a multiple of 16."),
        io.Int.Input("height", default=1024, min=16, max=MAX_SIZE, step=16, tooltip="Image height in pixels; rounded to a multiple of 16."),
        io.Int.Input("steps", default=4, min=1, max=100, tooltip="Denoising steps: about 4 for schnell, 20 or more for dev."),
        io.Float.Input("guidance", default=3.5, min=0.0, max=30.0, step=0.1, tooltip="Guidance strength; used by dev, ignored by schnell."),
        *selection_inputs("Joint blocks", "Denoising steps"),
        io.Float.Input(
            "temperature",
            default=DEFAULT_TEMPERATURE,
            min=0.001,
            max=10.0,
            step=0.001,
            tooltip="Softmax temperature of the contrast mask; lower is sharper. It changes the look, never the ranking of patches.",
        ),
        io.Image.Input(
            "image",
            optional=True,
            tooltip=(
                "Optional: analyse this picture instead of generating one. It is encoded, noised to "
                "noise_strength and denoised for the remaining steps; width and height are then ignored."
            ),
        ),
        io.Float.Input(
            "noise_strength",
            optional=True,  # optional, so that API prompts saved before this input existed stay valid
            default=0.5,
            min=0.01,
            max=1.0,
            step=0.01,
            tooltip="With an image: how much noise is added before the analysis steps (1 = pure noise). Ignored otherwise.",
        ),
    ]


def _single_rgb_image(image):
    """Return the one image of a batch as [H, W, 3]: grayscale is expanded, an alpha channel dropped."""
    batch, _, _, channels = image.shape
    if batch != 1:
        raise ValueError(f"image has a batch of {batch}; the analysis takes one image at a time, so split the batch first.")
    pixels = image[0]
    return pixels.expand(-1, -1, 3) if channels == 1 else pixels[..., :3]


class ContrastiveConceptAttention(io.ComfyNode):
    """Generates an image and its concept minus anti-concept heatmap from one FLUX pass."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_Generate",
            display_name="Contrastive Concept Attention",
            category="concept attention",
            description=(
                "Generates an image with FLUX and, in the same pass, the attention of a concept and of an "
                "anti-concept. The contrast mask is concept minus anti-concept (temperature softmax, no "
                "spectral sharpening: use Spectral Sharpen on the heatmap output for that). The plain mask "
                "is the concept's own attention, min-max normalised, for A/B comparison. With an image "
                "connected, the node analyses that picture instead of generating one."
            ),
            inputs=_inputs(),
            outputs=[
                io.Image.Output(display_name="image", tooltip="The generated image, or the analysed input image."),
                io.Mask.Output(
                    display_name="contrast mask",
                    tooltip="Concept minus anti-concept, temperature softmax, at the image size; 1 where the concept is most likely.",
                ),
                io.Mask.Output(
                    display_name="plain mask",
                    tooltip="The concept's own attention, min-max normalised: standard concept attention, for comparison.",
                ),
                ConceptHeatmapType.Output(
                    display_name="heatmap",
                    tooltip="Raw per-concept patch-grid scores of every selected layer and step, for Spectral Sharpen, Heatmap To Mask and Heatmap Overlay.",
                ),
            ],
        )

    @classmethod
    def execute(
        cls,
        model,
        prompt: str,
        concept: str,
        anti_concept: str,
        extra_concepts: str,
        seed: int,
        width: int,
        height: int,
        steps: int,
        guidance: float,
        layers: str,
        steps_to_average: str,
        temperature: float,
        image=None,
        noise_strength: float = 0.5,
    ) -> io.NodeOutput:
        require_module("mlx", "Contrastive Concept Attention")
        require_module("mflux", "Contrastive Concept Attention")
        import mlx.core as mx

        from ..contrastive_core.concepts import parse_concept_list
        from ..contrastive_core.heatmap import render_contrast, render_plain
        from ..contrastive_core.mflux_backend.generation import GenerationRequest, generate_with_concepts
        from ..contrastive_core.mflux_backend.image_analysis import analyse_image
        from ..contrastive_core.resize import upsample
        from .tensor_edge import image_batch, mlx_to_torch, torch_to_mlx

        request = GenerationRequest(
            prompt=prompt,
            target=concept,
            anti_concepts=parse_concept_list(anti_concept, "anti_concept"),
            extra_concepts=parse_concept_list(extra_concepts, "extra_concepts"),
            seed=seed,
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
            layers=layers,
            score_steps=steps_to_average,
        )
        if image is None:
            result = generate_with_concepts(model, request, on_step=step_reporter(steps))
        else:
            pixels = _single_rgb_image(image_batch(image, "image"))
            result = analyse_image(model, torch_to_mlx(pixels), request, noise_strength, on_step=step_reporter(steps))

        heatmap = result.heatmap
        grids = mx.stack([render_contrast(heatmap, exponent=1.0, temperature=temperature), render_plain(heatmap)])
        masks = upsample(grids, heatmap.image_height, heatmap.image_width)  # [2, H, W]
        return io.NodeOutput(
            mlx_to_torch(result.image[None]),
            mlx_to_torch(masks[0:1]),
            mlx_to_torch(masks[1:2]),
            heatmap,
        )
