"""Sample with ComfyUI's own sampler on a FLUX.1 MODEL while the concept scores are captured."""

from dataclasses import dataclass

import numpy as np
import torch

from .capture import ConceptCapture
from .concept_text import EncodedConcepts
from .flux_check import flux_transformer

DEFAULT_DOWNSCALE = 8  # pixels per latent cell of the FLUX.1 VAE


@dataclass(frozen=True)
class SamplingSettings:
    """The KSampler inputs of one run."""

    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    denoise: float


@dataclass(frozen=True)
class NativeCapture:
    """Scores [B, N, K, P] of one run (N: selected (layer, step) pairs, by step then layer) and their grid."""

    scores: np.ndarray
    grid_size: tuple[int, int]
    image_size: tuple[int, int]
    layers: tuple[int, ...]
    steps: tuple[int, ...]


def latent_samples(latent: object) -> torch.Tensor:
    """Return the [B, C, H, W] samples of a LATENT, or raise naming what was given."""
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(
            f"latent_image must be an image LATENT [batch, channels, height, width], got {shape}: connect "
            "Empty Latent Image (or EmptySD3LatentImage) or VAE Encode."
        )
    return samples


def sample_with_capture(
    model,
    positive,
    negative,
    latent: dict,
    settings: SamplingSettings,
    concepts: EncodedConcepts,
    layers: tuple[int, ...],
    steps: tuple[int, ...],
) -> tuple[dict, NativeCapture]:
    """Run the sampler exactly as KSampler does, on a clone of ``model`` carrying the capture hooks."""
    import comfy.sample
    import comfy.utils
    import latent_preview

    transformer = flux_transformer(model)
    samples = latent_samples(latent)
    downscale = latent.get("downscale_ratio_spacial")
    latent_image = comfy.sample.fix_empty_latent_channels(model, samples, downscale)
    capture = ConceptCapture(
        transformer, concepts, layers, steps, latent_size=tuple(latent_image.shape[-2:]), batch_size=latent_image.shape[0]
    )
    patched = capture.patch(model)

    noise = comfy.sample.prepare_noise(latent_image, settings.seed, latent.get("batch_index"))
    callback = latent_preview.prepare_callback(model, settings.steps)
    sampled = comfy.sample.sample(
        patched,
        noise,
        settings.steps,
        settings.cfg,
        settings.sampler_name,
        settings.scheduler,
        positive,
        negative,
        latent_image,
        denoise=settings.denoise,
        noise_mask=latent.get("noise_mask"),
        callback=callback,
        disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
        seed=settings.seed,
    )
    out = latent.copy()
    out.pop("downscale_ratio_spacial", None)
    out.pop("downscale_ratio_temporal", None)
    out["samples"] = sampled

    scale = downscale or getattr(model.model.latent_format, "spacial_downscale_ratio", DEFAULT_DOWNSCALE)
    height, width = latent_image.shape[-2:]
    result = NativeCapture(
        scores=capture.layer_step_scores().numpy(),
        grid_size=capture.grid_size,
        image_size=(height * scale, width * scale),
        layers=tuple(layers),
        steps=tuple(steps),
    )
    return out, result
