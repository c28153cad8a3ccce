"""Per-image metric rows and their aggregation into means with bootstrap confidence intervals."""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .concept_attention import (
    concept_attention_mean_threshold_accuracy,
    concept_attention_stacked_average_precision,
    concept_attention_stacked_miou,
)
from .ranking import auroc, foreground_average_precision, pointing_game
from .threshold import binary_scores

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class ImageMetrics:
    """All metrics of one heatmap against its mask; the first four use the given fixed threshold."""

    pixel_accuracy: float
    foreground_iou: float
    background_iou: float
    miou: float
    foreground_average_precision: float
    auroc: float
    pointing_game: bool
    concept_attention_mean_threshold_accuracy: float
    concept_attention_stacked_miou: float
    concept_attention_stacked_average_precision: float


METRIC_NAMES = tuple(field.name for field in dataclasses.fields(ImageMetrics))


def score_image(heatmap: np.ndarray, mask: np.ndarray, threshold: float) -> ImageMetrics:
    """Compute every metric of heatmap [H, W] in [0, 1] against mask [H, W], ignoring void pixels.

    `threshold` sets the prediction heatmap > threshold for accuracy and IoUs, and is best taken
    from calibrate_threshold on a separate split. Raises ValueError for a mask without foreground
    or background pixels.
    """
    scores = binary_scores(heatmap, mask, threshold)
    return ImageMetrics(
        pixel_accuracy=scores.pixel_accuracy,
        foreground_iou=scores.foreground_iou,
        background_iou=scores.background_iou,
        miou=scores.miou,
        foreground_average_precision=foreground_average_precision(heatmap, mask),
        auroc=auroc(heatmap, mask),
        pointing_game=pointing_game(heatmap, mask),
        concept_attention_mean_threshold_accuracy=concept_attention_mean_threshold_accuracy(heatmap, mask),
        concept_attention_stacked_miou=concept_attention_stacked_miou(heatmap, mask),
        concept_attention_stacked_average_precision=concept_attention_stacked_average_precision(heatmap, mask),
    )


@dataclass(frozen=True)
class MetricSummary:
    """Mean of one metric over images and the bootstrap percentile interval of that mean."""

    mean: float
    low: float
    high: float


def _check_bootstrap_options(rows: Sequence[ImageMetrics], resamples: int, confidence: float) -> None:
    """Raise ValueError naming the argument when rows, resamples or confidence are unusable."""
    if len(rows) == 0:
        raise ValueError("rows must contain at least one ImageMetrics, got none.")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")


def summarize_metrics(
    rows: Sequence[ImageMetrics],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, MetricSummary]:
    """Aggregate per-image rows into the mean of each metric and its percentile bootstrap interval.

    Each resample draws len(rows) images with replacement, seeded by `seed`, so the same rows,
    resamples and seed give the same intervals. The pointing game enters as its hit rate. Keys
    are the field names of ImageMetrics.
    """
    _check_bootstrap_options(rows, resamples, confidence)
    values = np.array([dataclasses.astuple(row) for row in rows], dtype=np.float64)  # [images, metrics]
    image_count = values.shape[0]

    # How often each image is drawn in each resample replaces an explicit index array.
    generator = np.random.default_rng(seed)
    draws = generator.multinomial(image_count, np.full(image_count, 1.0 / image_count), size=resamples)
    resampled_means = draws @ values / image_count  # [resamples, metrics]

    tail = (1.0 - confidence) / 2
    low, high = np.quantile(resampled_means, [tail, 1.0 - tail], axis=0)  # [metrics] each, over resamples
    means = values.mean(axis=0)  # [metrics], over images
    return {
        name: MetricSummary(mean=float(means[index]), low=float(low[index]), high=float(high[index]))
        for index, name in enumerate(METRIC_NAMES)
    }
