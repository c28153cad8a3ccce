"""Concept attention of a given image: encode it, noise it, and capture from a few denoising calls."""

import mlx.core as mx
from mflux.models.common.config.config import Config
from mflux.models.flux.latent_creator.flux_latent_creator import FluxLatentCreator

from ..errors import check_finite
from ..resize import upsample
from ..score_accumulator import ScoreAccumulator
from ..selection import parse_index_selection
from .flux_model import FluxModel
from .generation import (
    GenerationRequest,
    GenerationResult,
    StepCallback,
    concept_list,
    encode_concepts,
    heatmap_from_scores,
    nearest_patch_multiple,
)
from .transformer_forward import StepInputs, predict_noise


def first_analysis_step(steps: int, noise_strength: float) -> int:
    """Return the schedule step whose noise level the analysis starts at (strength 1: pure noise)."""
    if not 0.0 < noise_strength <= 1.0:
        raise ValueError(f"noise_strength must be in (0, 1], got {noise_strength}.")
    return min(steps - 1, round(steps * (1.0 - noise_strength)))


def encode_image(model: FluxModel, image: mx.array, height: int, width: int) -> mx.array:
    """Resize an image [H, W, 3] in 0..1 to height x width and VAE-encode it into packed latents [1, P, 64]."""
    channels_first = mx.transpose(image.astype(mx.float32), (2, 0, 1))  # [3, H, W]
    resized = upsample(channels_first, height, width)  # [3, height, width]
    pixels = (resized * 2.0 - 1.0)[None]  # [1, 3, height, width] in -1..1, as the VAE expects
    latents = model.vae.encode(pixels)
    # mflux 0.14 and later return [1, 16, 1, h, w], with a frame axis, and 0.13 returns [1, 16, h, w].
    latents = latents.reshape(1, latents.shape[1], height // 8, width // 8)
    return FluxLatentCreator.pack_latents(latents=latents, height=height, width=width)


def analyse_image(
    model: FluxModel,
    image: mx.array,
    request: GenerationRequest,
    noise_strength: float,
    on_step: StepCallback | None = None,
) -> GenerationResult:
    """Capture concept scores of an image [H, W, 3] in 0..1; the heatmap maps back to exactly H x W.

    The image is resized to the nearest multiples of 16 pixels and encoded. The analysis steps run
    from ``first_analysis_step`` to the end of the schedule. For each selected one, the clean latents
    are noised to that step's level, and one denoising call captures the scores.
    """
    image_height, image_width, _ = image.shape
    height = nearest_patch_multiple(image_height)
    width = nearest_patch_multiple(image_width)
    first_step = first_analysis_step(request.steps, noise_strength)
    analysis_steps = tuple(range(first_step, request.steps))
    layers = parse_index_selection(request.layers, model.joint_block_count, "layers", "joint blocks in this model")
    selected = parse_index_selection(
        request.score_steps, len(analysis_steps), "steps_to_average", "analysis steps at this noise_strength"
    )
    concepts, target, anti = concept_list(request)

    # 1. Encode the prompt, the concepts and the image.
    prompt_embeds, pooled_prompt_embeds = model.text_encoder.encode_prompt(request.prompt)
    concept_embeds, spans = encode_concepts(model, concepts)
    clean = encode_image(model, image, height, width)
    check_finite(clean, "encoded image (VAE latents)")
    noise = FluxLatentCreator.create_noise(seed=request.seed, height=height, width=width)
    config = Config(model_config=model.model_config, num_inference_steps=request.steps, height=height, width=width, guidance=request.guidance)
    accumulator = ScoreAccumulator(spans, layers, tuple(analysis_steps[index] for index in selected))

    # 2. One denoising call per selected step, on the clean latents noised to that step's level.
    # Every call starts again from the clean latents, so unselected steps need not run at all.
    for done, step in enumerate(accumulator.steps, start=1):
        sigma = config.scheduler.sigmas[step]
        latents = (1.0 - sigma) * clean + sigma * noise
        predict_noise(model.transformer, StepInputs(latents, prompt_embeds, pooled_prompt_embeds, concept_embeds, step, config), accumulator)
        mx.eval(accumulator.pending())
        if on_step is not None:
            on_step(done, len(accumulator.steps))

    heatmap = heatmap_from_scores(accumulator, target, anti, (height, width), (image_height, image_width))
    return GenerationResult(image=image.astype(mx.float32), heatmap=heatmap)
