"""Validation of a heatmap and its ground-truth mask, and extraction of the pixels that are scored."""

from typing import NamedTuple

import numpy as np

# Label of void pixels in a uint8 label map, as in PASCAL VOC. Every metric ignores them.
VOID_LABEL = 255


class EvaluationPixels(NamedTuple):
    """Heatmap values and ground truth of the non-void pixels of one image, flattened in row-major order."""

    scores: np.ndarray  # [valid pixels] float64 in [0, 1]
    foreground: np.ndarray  # [valid pixels] bool


def check_threshold(name: str, value: float) -> float:
    """Return `value` as a float after checking that it is finite."""
    threshold = float(value)
    if not np.isfinite(threshold):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return threshold


def _check_heatmap(heatmap: np.ndarray, name: str) -> np.ndarray:
    """Return `heatmap` as float64 [height, width] after checking that it is finite and in [0, 1]."""
    values = np.asarray(heatmap, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"{name} must have shape [height, width], got shape {values.shape}.")
    if values.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        bad_count = np.count_nonzero(~np.isfinite(values))
        raise ValueError(f"{name} contains NaN or infinity ({bad_count} of {values.size} pixels).")

    low, high = values.min(), values.max()
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name} must be in [0, 1], got values in [{low:g}, {high:g}]. Rescale it first.")
    return values


def _check_mask(mask: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return the uint8 labels of `mask` (0 background, 1 foreground, VOID_LABEL void) after checking them."""
    labels = np.asarray(mask)
    if labels.shape != shape:
        raise ValueError(f"{name} must have the heatmap's shape {shape}, got shape {labels.shape}.")
    if labels.dtype == np.bool_:
        return labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} must be bool or an integer label map (0, 1, {VOID_LABEL} for void), "
            f"got dtype {labels.dtype}."
        )

    allowed = np.isin(labels, (0, 1, VOID_LABEL))
    if not np.all(allowed):
        unexpected = np.unique(labels[~allowed])[:5].tolist()
        raise ValueError(f"{name} may contain only 0, 1 and {VOID_LABEL} (void), got also {unexpected}.")
    return labels.astype(np.uint8)


def evaluation_pixels(
    heatmap: np.ndarray, mask: np.ndarray, heatmap_name: str = "heatmap", mask_name: str = "mask"
) -> EvaluationPixels:
    """Validate heatmap [H, W] in [0, 1] and mask [H, W], and return the non-void pixels of both.

    Every metric of this package is undefined for a mask without foreground or without background
    (AUROC, the IoUs and the pointing game need both classes), so this raises ValueError for such a
    mask instead of returning NaN. Images without the concept belong out of the evaluation.
    """
    values = _check_heatmap(heatmap, heatmap_name)
    labels = _check_mask(mask, mask_name, values.shape)

    valid = labels != VOID_LABEL  # [H, W]
    foreground = labels[valid] == 1  # [valid pixels]
    foreground_count = np.count_nonzero(foreground)
    for class_name, count in (("foreground", foreground_count), ("background", foreground.size - foreground_count)):
        if count == 0:
            raise ValueError(
                f"{mask_name} has no {class_name} pixels outside void (label {VOID_LABEL}), so the "
                "metrics are undefined for it. Leave this image out of the evaluation."
            )
    return EvaluationPixels(scores=values[valid], foreground=foreground)
