"""Heatmap quality against ground-truth masks, in float64 NumPy (no MLX), for evaluation.

A heatmap is float [height, width] in [0, 1]. A mask is bool, or an integer label map with 0 for
background, 1 for foreground and 255 for void pixels, which every metric ignores. Each metric
raises ValueError for a mask without foreground or background pixels, where it is undefined.
"""

from .concept_attention import (
    concept_attention_mean_threshold_accuracy,
    concept_attention_stacked_average_precision,
    concept_attention_stacked_miou,
)
from .inputs import VOID_LABEL
from .ranking import auroc, foreground_average_precision, pointing_game
from .summary import ImageMetrics, MetricSummary, score_image, summarize_metrics
from .threshold import BinaryScores, OracleThresholdMiou, binary_scores, calibrate_threshold, oracle_threshold_miou

__all__ = [
    "VOID_LABEL",
    "BinaryScores",
    "ImageMetrics",
    "MetricSummary",
    "OracleThresholdMiou",
    "auroc",
    "binary_scores",
    "calibrate_threshold",
    "concept_attention_mean_threshold_accuracy",
    "concept_attention_stacked_average_precision",
    "concept_attention_stacked_miou",
    "foreground_average_precision",
    "oracle_threshold_miou",
    "pointing_game",
    "score_image",
    "summarize_metrics",
]
