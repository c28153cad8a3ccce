"""ConceptAttention-style segmentation numbers, kept to compare with published results.

ConceptAttention (Helbling et al. 2025, https://github.com/helblazer811/ConceptAttention) reports pixel
accuracy at the per-image mean threshold, and an "mIoU" and "mAP" computed on the two-channel stack
[1 - H, H] against [1 - M, M]. The stacked "mIoU" equals acc / (2 - acc) and bounds the 2-class
mIoU from above, and the stacked "mAP" can change under a monotone re-mapping of H, so neither
is the quantity that its name suggests. Report them only beside the 2-class mIoU and foreground AP.
"""

import numpy as np

from .inputs import EvaluationPixels, evaluation_pixels
from .ranking import step_average_precision


def _mean_threshold_correct(pixels: EvaluationPixels) -> np.ndarray:
    """Mark the non-void pixels that the prediction H > mean(H) classifies correctly: bool [valid pixels]."""
    predicted = pixels.scores > pixels.scores.mean()  # mean over non-void pixels
    return predicted == pixels.foreground


def concept_attention_mean_threshold_accuracy(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """ConceptAttention-style pixel accuracy of heatmap [H, W] > its mean, against mask [H, W]: in [0, 1].

    The mean is taken over non-void pixels, so it is unchanged by an affine rescaling such as
    min-max normalisation. Raises ValueError for a mask without foreground or background pixels.
    """
    return float(np.mean(_mean_threshold_correct(evaluation_pixels(heatmap, mask))))


def concept_attention_stacked_miou(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """ConceptAttention-style stacked "mIoU": one IoU of the stack [1 - B, B] against [1 - M, M]: in [0, 1].

    B is the binary prediction heatmap > mean(heatmap) over non-void pixels. Each pixel is on in
    exactly one channel of each stack, so the intersection is the number of correct pixels c and
    the union is 2N - c, which makes the value c / (2N - c) = acc / (2 - acc). With e = FP + FN
    errors, the 2-class mIoU is the mean of f(TP) and f(TN) for the concave f(x) = x / (x + e), and
    by Jensen's inequality that mean is at most f((TP + TN) / 2) = acc / (2 - acc). So this value
    is an upper bound of the 2-class mIoU at the same threshold, with equality only when TP = TN
    or there are no errors.
    """
    correct = _mean_threshold_correct(evaluation_pixels(heatmap, mask))  # [valid pixels]
    correct_count = np.count_nonzero(correct)
    return correct_count / (2 * correct.size - correct_count)


def concept_attention_stacked_average_precision(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """ConceptAttention-style stacked "mAP": average precision of [1 - H, H] for [1 - M, M], flattened.

    Scores of both channels share one ranking, so the order of 1 - H[i] against H[j] decides the
    value. A strictly increasing re-mapping g of H (a power, a temperature softmax, min-max
    normalisation) can change that order and so the value, while foreground AP does not change.
    Report the re-mapping with the number. Raises ValueError for a mask without foreground or
    background pixels.
    """
    pixels = evaluation_pixels(heatmap, mask)
    stacked_scores = np.concatenate([1.0 - pixels.scores, pixels.scores])  # [2 * valid pixels]
    stacked_labels = np.concatenate([~pixels.foreground, pixels.foreground])  # [2 * valid pixels]
    return step_average_precision(stacked_scores, stacked_labels)
