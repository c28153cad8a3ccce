"""Text-to-image generation with concept attention captured in the same pass."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
from mflux.models.common.config.config import Config
from mflux.models.flux.latent_creator.flux_latent_creator import FluxLatentCreator

from ..concepts import ConceptSpans, order_concepts
from ..errors import check_finite
from ..heatmap import ConceptHeatmap
from ..options import PATCH_SIZE
from ..score_accumulator import ScoreAccumulator
from ..selection import parse_index_selection
from .flux_model import FluxModel
from .transformer_forward import StepInputs, predict_noise

logger = logging.getLogger(__name__)

StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the prompt, the concepts to score, and where to read the scores."""

    prompt: str
    target: str
    anti_concepts: tuple[str, ...]
    extra_concepts: tuple[str, ...] = ()
    seed: int = 0
    width: int = 1024
    height: int = 1024
    steps: int = 4
    guidance: float = 4.0
    layers: str = "all"
    score_steps: str = "all"


@dataclass
class GenerationResult:
    """The generated image [H, W, 3] in 0..1 and the captured concept scores."""

    image: mx.array
    heatmap: ConceptHeatmap


def nearest_patch_multiple(size: int) -> int:
    """Return the multiple of the patch size nearest to a pixel size, at least one patch."""
    return max(PATCH_SIZE, PATCH_SIZE * round(size / PATCH_SIZE))


def round_to_patches(size: int, input_name: str) -> int:
    """Round a pixel size to the nearest multiple of the patch size, warning when it changes."""
    if size < PATCH_SIZE:
        raise ValueError(f"{input_name} must be at least {PATCH_SIZE} pixels, got {size}.")
    rounded = nearest_patch_multiple(size)
    if rounded != size:
        logger.warning("%s %d is not a multiple of %d; generating at %d.", input_name, size, PATCH_SIZE, rounded)
    return rounded


def concept_list(request: GenerationRequest) -> tuple[tuple[str, ...], int, tuple[int, ...]]:
    """Return all concepts in stream order (target, anti-concepts, extras), the target index and anti indices."""
    return order_concepts(request.target, request.anti_concepts, request.extra_concepts)


def encode_concepts(model: FluxModel, concepts: tuple[str, ...]) -> tuple[mx.array, ConceptSpans]:
    """Encode each concept alone and concatenate their real tokens into one sequence [1, C, 4096]."""
    encoded = [model.text_encoder.encode_concept(concept) for concept in concepts]
    ends = [int(sum(part.shape[1] for part in encoded[: index + 1])) for index in range(len(encoded))]
    spans = tuple(zip([0, *ends[:-1]], ends))
    return mx.concatenate(encoded, axis=1), ConceptSpans(concepts=concepts, spans=spans)


def generate_with_concepts(
    model: FluxModel, request: GenerationRequest, on_step: StepCallback | None = None
) -> GenerationResult:
    """Generate one image and capture every concept's scores in the same pass; calls on_step(done, total)."""
    latents, heatmap = denoise_with_concepts(model, request, on_step)
    image = decode_latents(model, latents, heatmap.image_height, heatmap.image_width)
    return GenerationResult(image=image, heatmap=heatmap)


def denoise_with_concepts(
    model: FluxModel, request: GenerationRequest, on_step: StepCallback | None = None
) -> tuple[mx.array, ConceptHeatmap]:
    """Run the denoising loop with the concept stream; return the final latents [1, P, 64] and the scores."""
    if request.steps < 1:
        raise ValueError(f"steps must be at least 1, got {request.steps}.")
    if not request.prompt.strip():
        raise ValueError("prompt is empty: describe the image to generate.")
    width = round_to_patches(request.width, "width")
    height = round_to_patches(request.height, "height")
    layers = parse_index_selection(request.layers, model.joint_block_count, "layers", "joint blocks in this model")
    score_steps = parse_index_selection(request.score_steps, request.steps, "steps_to_average", "denoising steps")
    concepts, target, anti = concept_list(request)

    # 1. Encode the prompt, and the concepts into one concept stream.
    prompt_embeds, pooled_prompt_embeds = model.text_encoder.encode_prompt(request.prompt)
    concept_embeds, spans = encode_concepts(model, concepts)
    accumulator = ScoreAccumulator(spans, layers, score_steps)

    # 2. Denoise, reducing the captured attention to scores at every step.
    config = Config(
        model_config=model.model_config,
        num_inference_steps=request.steps,
        height=height,
        width=width,
        guidance=request.guidance,
    )
    latents = FluxLatentCreator.create_noise(seed=request.seed, height=height, width=width)
    for step in range(request.steps):
        inputs = StepInputs(latents, prompt_embeds, pooled_prompt_embeds, concept_embeds, step, config)
        noise = predict_noise(model.transformer, inputs, accumulator)
        latents = config.scheduler.step(noise=noise, timestep=step, latents=latents)
        mx.eval(latents, *accumulator.pending())
        if on_step is not None:
            on_step(step + 1, request.steps)

    return latents, heatmap_from_scores(accumulator, target, anti, (height, width), (height, width))


def heatmap_from_scores(
    accumulator: ScoreAccumulator,
    target: int,
    anti: tuple[int, ...],
    analysed_size: tuple[int, int],
    image_size: tuple[int, int],
) -> ConceptHeatmap:
    """Package the accumulated scores of an analysed height x width into a heatmap for image_size."""
    height, width = analysed_size
    image_height, image_width = image_size
    return ConceptHeatmap(
        concepts=accumulator.spans.concepts,
        target=target,
        anti=anti,
        layer_step_scores=accumulator.stacked(),
        grid_height=height // PATCH_SIZE,
        grid_width=width // PATCH_SIZE,
        image_height=image_height,
        image_width=image_width,
        layers=accumulator.layers,
        steps=accumulator.steps,
    )


def decode_latents(model: FluxModel, latents: mx.array, height: int, width: int) -> mx.array:
    """Decode packed latents [1, P, 64] into an image [H, W, 3] in 0..1 (float32)."""
    unpacked = FluxLatentCreator.unpack_latents(latents=latents, height=height, width=width)
    # mflux 0.14 and later return [1, 3, 1, H, W], with a frame axis, and 0.13 returns [1, 3, H, W].
    # The reshape below takes either.
    decoded = model.vae.decode(unpacked)
    decoded = decoded.reshape(3, height, width).astype(mx.float32)
    check_finite(decoded, "decoded image (VAE output)")
    image = mx.clip(decoded / 2 + 0.5, 0.0, 1.0)
    return mx.transpose(image, (1, 2, 0))  # [H, W, 3]
