"""Concept maps from the captured scores: plain, competition (softmax over concepts) and contrast."""

import logging

import mlx.core as mx

from .errors import check_finite, check_index, check_ndim

logger = logging.getLogger(__name__)

# A row whose max - min is at most this fraction of its largest magnitude counts as constant.
CONSTANT_RELATIVE_TOLERANCE = 1e-6
# A contrast whose largest magnitude is at most this fraction of the rows it subtracts is float32
# rounding, not signal. The same concept at two places of the concept stream differs by about 1e-7
# of its scores (random-weight FLUX, mflux 0.24), and a softmax would stretch that to full range.
CONTRAST_ROUNDING_TOLERANCE = 1e-5


def plain_map(scores: mx.array, target: int) -> mx.array:
    """Min-max normalise the target row of scores [K, P] to [P] in [0, 1] (constant row: zeros)."""
    check_ndim("scores", scores, "concepts, patches")
    concept_count = scores.shape[0]
    target = check_index("target", target, concept_count)
    row = scores[target].astype(mx.float32)
    check_finite(row, "plain map input scores")

    # Divide by the largest magnitude first, so that max - min cannot overflow float32.
    peak = mx.max(mx.abs(row))
    row = mx.where(peak > 0, row / peak, row)
    low, high = mx.min(row), mx.max(row)
    spread = high - low
    if spread.item() <= CONSTANT_RELATIVE_TOLERANCE * mx.max(mx.abs(row)).item():
        logger.warning("The plain map is constant (every patch scores the same, as on a 1-patch grid); returning all zeros.")
        return mx.zeros_like(row)
    return (row - low) / spread


def competition_map(layer_step_scores: mx.array, target: int) -> mx.array:
    """Softmax scores [N, K, P] over concepts, keep the target row, mean over N: [P] in [0, 1].

    This is the standard map of ConceptAttention (Helbling et al. 2025,
    https://github.com/helblazer811/ConceptAttention, MIT licence): each patch's scores compete
    across the concepts of one (layer, step), so the map needs at least two concepts.
    """
    check_ndim("layer_step_scores", layer_step_scores, "layer-steps, concepts, patches")
    pair_count, concept_count, _ = layer_step_scores.shape
    if concept_count < 2:
        raise ValueError(
            f"competition_map needs at least 2 concepts to compete, got {concept_count}; "
            "add an anti-concept or use the plain map."
        )
    if pair_count < 1:
        raise ValueError("layer_step_scores must hold at least 1 (layer, step) pair, got 0.")
    target = check_index("target", target, concept_count)
    scores = layer_step_scores.astype(mx.float32)
    check_finite(scores, "competition map input scores")

    probabilities = mx.softmax(scores, axis=1)  # [N, K, P], softmax over concepts
    return mx.mean(probabilities[:, target, :], axis=0)  # [P], mean over (layer, step) pairs


def contrast_map(scores: mx.array, target: int, anti: tuple[int, ...]) -> mx.array:
    """Subtract the mean of the anti rows from the target row of scores [..., K, P]: [..., P], signed."""
    if scores.ndim < 2:
        raise ValueError(
            f"scores must have shape [..., concepts, patches] (at least 2 dimensions), "
            f"got shape {tuple(scores.shape)}."
        )
    concept_count = scores.shape[-2]
    target = check_index("target", target, concept_count)
    anti = tuple(anti)
    if not anti:
        raise ValueError("anti must name at least one anti-concept index, got an empty tuple.")
    anti = tuple(check_index("anti index", index, concept_count) for index in anti)
    scores = scores.astype(mx.float32)
    check_finite(scores, "contrast map input scores")

    anti_rows = mx.take(scores, mx.array(anti), axis=-2)  # [..., A, P]
    target_row = scores[..., target, :]  # [..., P]
    anti_mean = mx.mean(anti_rows, axis=-2)  # [..., P], mean over anti-concepts
    contrast = target_row - anti_mean
    check_finite(contrast, "contrast map (target minus anti-concepts overflowed float32)")

    # Per map, over its patches: a difference at the level of float32 rounding becomes exactly zero.
    scale = mx.maximum(mx.max(mx.abs(target_row), axis=-1, keepdims=True), mx.max(mx.abs(anti_mean), axis=-1, keepdims=True))
    negligible = mx.max(mx.abs(contrast), axis=-1, keepdims=True) <= CONTRAST_ROUNDING_TOLERANCE * scale
    return mx.where(negligible, mx.zeros_like(contrast), contrast)
