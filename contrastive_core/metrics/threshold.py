"""Fixed-threshold segmentation scores: confusion counts, IoUs and the choice of a threshold."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .inputs import EvaluationPixels, check_threshold, evaluation_pixels

# Thresholds tried when the caller gives none: 0.00, 0.01, ..., 1.00.
DEFAULT_CANDIDATE_COUNT = 101


@dataclass(frozen=True)
class BinaryScores:
    """Scores of the prediction `heatmap > threshold` against a mask, over non-void pixels."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    pixel_accuracy: float
    foreground_iou: float
    background_iou: float
    miou: float  # mean of foreground_iou and background_iou


def confusion_counts(pixels: EvaluationPixels, thresholds: np.ndarray) -> np.ndarray:
    """Count TP, FP, FN, TN of `scores > t` for each threshold t [T]: int64 [4, T]."""
    foreground_scores = np.sort(pixels.scores[pixels.foreground])
    background_scores = np.sort(pixels.scores[~pixels.foreground])

    # Scores above t are those after the right-hand insertion point of t in the sorted scores.
    true_positives = foreground_scores.size - np.searchsorted(foreground_scores, thresholds, side="right")
    false_positives = background_scores.size - np.searchsorted(background_scores, thresholds, side="right")
    false_negatives = foreground_scores.size - true_positives
    true_negatives = background_scores.size - false_positives
    return np.stack([true_positives, false_positives, false_negatives, true_negatives]).astype(np.int64)


def _ious(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compute foreground and background IoU [T] from counts [4, T]. A valid mask keeps both denominators positive."""
    true_positives, false_positives, false_negatives, true_negatives = counts
    errors = false_positives + false_negatives
    return true_positives / (true_positives + errors), true_negatives / (true_negatives + errors)


def binary_scores(heatmap: np.ndarray, mask: np.ndarray, threshold: float) -> BinaryScores:
    """Score the prediction heatmap [H, W] > threshold against mask [H, W], ignoring void pixels.

    Pixels equal to the threshold count as background. Raises ValueError for a mask without
    foreground or background pixels, for which the IoUs would be undefined.
    """
    threshold = check_threshold("threshold", threshold)
    pixels = evaluation_pixels(heatmap, mask)
    counts = confusion_counts(pixels, np.array([threshold]))  # [4, 1]
    foreground_iou, background_iou = _ious(counts)

    true_positives, false_positives, false_negatives, true_negatives = (int(count) for count in counts[:, 0])
    return BinaryScores(
        true_positives=true_positives,
        false_positives=false_positives,
        false_negatives=false_negatives,
        true_negatives=true_negatives,
        pixel_accuracy=(true_positives + true_negatives) / pixels.scores.size,
        foreground_iou=float(foreground_iou[0]),
        background_iou=float(background_iou[0]),
        miou=float((foreground_iou[0] + background_iou[0]) / 2),
    )


def _check_candidates(candidates: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Return the candidate thresholds sorted ascending without duplicates: float64 [T]."""
    if candidates is None:
        return np.linspace(0.0, 1.0, DEFAULT_CANDIDATE_COUNT)

    values = np.asarray(candidates, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"candidates must be a non-empty 1-D sequence of thresholds, got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"candidates must be finite, got {values.tolist()}.")
    return np.unique(values)


def mean_miou_per_threshold(
    heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray], thresholds: np.ndarray
) -> np.ndarray:
    """Average the 2-class mIoU over images at each threshold [T]: float64 [T]."""
    if len(heatmaps) != len(masks):
        raise ValueError(f"heatmaps and masks must have the same length, got {len(heatmaps)} and {len(masks)}.")
    if len(heatmaps) == 0:
        raise ValueError("heatmaps must contain at least one image, got none.")

    total = np.zeros(thresholds.size)
    for index, (heatmap, mask) in enumerate(zip(heatmaps, masks)):
        pixels = evaluation_pixels(heatmap, mask, f"heatmaps[{index}]", f"masks[{index}]")
        foreground_iou, background_iou = _ious(confusion_counts(pixels, thresholds))
        total += (foreground_iou + background_iou) / 2
    return total / len(heatmaps)


def calibrate_threshold(
    heatmaps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    candidates: Sequence[float] | np.ndarray | None = None,
) -> float:
    """Return the candidate threshold with the highest mean 2-class mIoU over a calibration split.

    Each image weighs the same in the mean, whatever its size. `candidates` defaults to 0.00,
    0.01, ..., 1.00. Where several candidates tie for the best mean (they usually give identical
    predictions because no heatmap value lies between them), the smallest wins, so the result does
    not depend on the order of `candidates`. Apply it to a separate test split.
    """
    thresholds = _check_candidates(candidates)
    scores = mean_miou_per_threshold(heatmaps, masks, thresholds)
    return float(thresholds[np.argmax(scores)])  # argmax returns the first, that is the smallest, maximum


@dataclass(frozen=True)
class OracleThresholdMiou:
    """Best mean 2-class mIoU over candidate thresholds and its threshold, both chosen on the scored data."""

    threshold: float
    mean_miou: float


def oracle_threshold_miou(
    heatmaps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    candidates: Sequence[float] | np.ndarray | None = None,
) -> OracleThresholdMiou:
    """Return the oracle mean 2-class mIoU: the threshold is chosen on the same images that it scores.

    This is an upper bound of what any fixed threshold reaches on this dataset, not a fair result,
    because it looks at the ground truth of the test images. Report calibrate_threshold on a
    separate split beside it. Candidates and tie-breaking are as in calibrate_threshold.
    """
    thresholds = _check_candidates(candidates)
    scores = mean_miou_per_threshold(heatmaps, masks, thresholds)
    best = int(np.argmax(scores))
    return OracleThresholdMiou(threshold=float(thresholds[best]), mean_miou=float(scores[best]))
