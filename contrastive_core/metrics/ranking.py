"""Threshold-free scores of a heatmap: foreground average precision, AUROC and the pointing game."""

import numpy as np

from .inputs import evaluation_pixels


def _count_labels_per_score(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count positive and negative pixels at each distinct score, in ascending score order: two int [S]."""
    _, inverse, totals = np.unique(scores, return_inverse=True, return_counts=True)
    positives = np.bincount(inverse, weights=labels, minlength=totals.size).astype(np.int64)
    return positives, totals - positives


def step_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision of scores [N] for bool labels [N]: sum over thresholds of recall gain times precision.

    The thresholds are the distinct scores, taken from the highest down, so tied pixels enter
    together. This is the step-wise definition that scikit-learn's average_precision_score uses
    (no interpolation of the precision-recall curve).
    """
    positives, negatives = _count_labels_per_score(scores, labels)
    positives, negatives = positives[::-1], negatives[::-1]  # [S], highest score first

    true_positives = np.cumsum(positives)
    predicted = true_positives + np.cumsum(negatives)
    return float(np.sum(positives * (true_positives / predicted)) / true_positives[-1])


def foreground_average_precision(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Average precision of heatmap [H, W] in [0, 1] for the foreground of mask [H, W], void ignored.

    Unchanged by any strictly increasing re-mapping of the heatmap (a power or a temperature
    softmax). A constant heatmap scores the foreground fraction. Raises ValueError for a mask
    without foreground or background pixels.
    """
    pixels = evaluation_pixels(heatmap, mask)
    return step_average_precision(pixels.scores, pixels.foreground)


def auroc(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Area under the ROC curve of heatmap [H, W] for the foreground of mask [H, W], void ignored.

    Equals the probability that a random foreground pixel scores above a random background pixel,
    with a tie counted as one half, which matches the trapezoidal area of scikit-learn's
    roc_auc_score. Raises ValueError for a mask without foreground or background pixels.
    """
    pixels = evaluation_pixels(heatmap, mask)
    positives, negatives = _count_labels_per_score(pixels.scores, pixels.foreground)

    negatives_below = np.cumsum(negatives) - negatives  # [S], background pixels with a lower score
    wins = np.sum(positives * (negatives_below + negatives / 2))
    return float(wins / (positives.sum() * negatives.sum()))


def pointing_game(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    """Return whether the maximum of heatmap [H, W] over non-void pixels lies in the foreground of mask.

    Where several pixels share the maximum (exact equality), all of them must be foreground. A
    plateau that spills outside the object, or a constant heatmap, is therefore a miss, and the
    result does not depend on pixel order. Raises ValueError for a mask without foreground or
    background pixels.
    """
    pixels = evaluation_pixels(heatmap, mask)
    at_maximum = pixels.scores == pixels.scores.max()  # [valid pixels]
    return bool(np.all(pixels.foreground[at_maximum]))
