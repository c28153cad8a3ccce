"""Per-target scores: every metric at a fixed threshold, plus the mIoU at every candidate threshold."""

import dataclasses

import numpy as np

from ..metrics import VOID_LABEL, score_image

FIXED_THRESHOLD = 0.5
THRESHOLD_CANDIDATES = np.linspace(0.0, 1.0, 101)  # the grid that calibration and the oracle choose from


def target_mask(label_map: np.ndarray, class_index: int) -> np.ndarray:
    """Return the mask [H, W] uint8 of one class: 1 foreground, 0 background, VOID_LABEL ignored."""
    mask = (label_map == class_index).astype(np.uint8)
    mask[label_map == VOID_LABEL] = VOID_LABEL
    return mask


def miou_by_threshold(heatmap: np.ndarray, mask: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Return the 2-class mIoU of ``heatmap > t`` for every t in thresholds: [T], without a loop over t."""
    foreground = np.sort(heatmap[mask == 1])
    background = np.sort(heatmap[mask == 0])
    true_positives = foreground.size - np.searchsorted(foreground, thresholds, side="right")  # [T]
    false_positives = background.size - np.searchsorted(background, thresholds, side="right")
    false_negatives = foreground.size - true_positives
    true_negatives = background.size - false_positives
    foreground_iou = true_positives / np.maximum(true_positives + false_positives + false_negatives, 1)
    background_iou = true_negatives / np.maximum(true_negatives + false_negatives + false_positives, 1)
    return (foreground_iou + background_iou) / 2


def score_target(heatmap: np.ndarray, label_map: np.ndarray, class_index: int) -> dict:
    """Score one rendered heatmap [H, W] against one class of a label map, as a JSON-ready dict."""
    mask = target_mask(label_map, class_index)
    metrics = dataclasses.asdict(score_image(heatmap.astype(np.float64), mask, FIXED_THRESHOLD))
    metrics["pointing_game"] = float(metrics["pointing_game"])
    metrics["miou_by_threshold"] = np.round(miou_by_threshold(heatmap, mask, THRESHOLD_CANDIDATES), 6).tolist()
    return metrics
