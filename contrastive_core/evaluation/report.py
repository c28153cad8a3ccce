"""Summaries of an evaluation run: the printed table, CSV and JSON files, and a contact sheet."""

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np
from PIL import Image, ImageDraw

from ..metrics import ImageMetrics, summarize_metrics
from ..overlay import overlay_heatmap
from .dataset import Sample
from .runner import RESULTS_FILE, heatmap_path, load_heatmap
from .scoring import FIXED_THRESHOLD, THRESHOLD_CANDIDATES, target_mask
from .variants import VariantSettings, render_variants

METRIC_LABELS = {
    "miou": f"mIoU@{FIXED_THRESHOLD:g}",
    "pixel_accuracy": f"acc@{FIXED_THRESHOLD:g}",
    "foreground_average_precision": "fg AP",
    "auroc": "AUROC",
    "pointing_game": "pointing",
    "concept_attention_mean_threshold_accuracy": "CA acc (mean thr.)",
    "concept_attention_stacked_miou": "CA stacked mIoU",
    "concept_attention_stacked_average_precision": "CA stacked mAP",
}
THUMBNAIL_HEIGHT = 160  # pixels per contact-sheet row
CONTACT_SHEET_TARGETS = 4  # worst and best targets shown


@dataclass
class VariantSummary:
    """Mean and 95% bootstrap interval per metric, plus the calibrated and oracle threshold mIoU."""

    variant: str
    targets: int
    metrics: dict[str, tuple[float, float, float]]
    calibrated_threshold: float | None
    calibrated_miou: float | None
    oracle_threshold: float
    oracle_miou: float


def read_rows(output_dir: Path) -> list[dict]:
    lines = (output_dir / RESULTS_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def threshold_results(curves: np.ndarray, calibration_fraction: float) -> tuple[float | None, float | None, float, float]:
    """Calibrate on the first targets and score the rest; also the oracle over all. curves: [targets, T]."""
    oracle_index = int(np.argmax(curves.mean(axis=0)))  # argmax takes the smallest threshold on ties
    oracle = (float(THRESHOLD_CANDIDATES[oracle_index]), float(curves.mean(axis=0)[oracle_index]))
    calibration_count = max(1, round(len(curves) * calibration_fraction))
    if calibration_count >= len(curves):
        return None, None, *oracle
    index = int(np.argmax(curves[:calibration_count].mean(axis=0)))
    return float(THRESHOLD_CANDIDATES[index]), float(curves[calibration_count:, index].mean()), *oracle


def summarize(rows: list[dict], calibration_fraction: float, resamples: int) -> list[VariantSummary]:
    """Summarize the rows of each variant; targets are ordered by (image, class) for the split."""
    by_variant: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row["image"], row["class"])):
        by_variant[row["variant"]].append(row)

    summaries = []
    for variant, variant_rows in by_variant.items():
        metrics = [ImageMetrics(**{name: row[name] for name in ImageMetrics.__dataclass_fields__}) for row in variant_rows]
        statistics = summarize_metrics(metrics, resamples=resamples)
        curves = np.array([row["miou_by_threshold"] for row in variant_rows])  # [targets, T]
        calibrated_threshold, calibrated_miou, oracle_threshold, oracle_miou = threshold_results(curves, calibration_fraction)
        summaries.append(
            VariantSummary(
                variant=variant,
                targets=len(variant_rows),
                metrics={name: (item.mean, item.low, item.high) for name, item in statistics.items()},
                calibrated_threshold=calibrated_threshold,
                calibrated_miou=calibrated_miou,
                oracle_threshold=oracle_threshold,
                oracle_miou=oracle_miou,
            )
        )
    return summaries


def format_table(summaries: list[VariantSummary]) -> str:
    """Return the summary as a text table: each metric's mean and [95% interval]."""
    headers = ["variant", *METRIC_LABELS.values(), "mIoU calibrated", "oracle mIoU"]
    lines = []
    for summary in summaries:
        cells = [summary.variant]
        cells += [f"{mean:.3f} [{low:.3f}, {high:.3f}]" for mean, low, high in (summary.metrics[name] for name in METRIC_LABELS)]
        calibrated = "n/a (too few targets)" if summary.calibrated_miou is None else f"{summary.calibrated_miou:.3f} (t={summary.calibrated_threshold:.2f})"
        cells += [calibrated, f"{summary.oracle_miou:.3f} (t={summary.oracle_threshold:.2f})"]
        lines.append(cells)
    widths = [max(len(row[column]) for row in [headers, *lines]) for column in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [headers, *lines])


def write_summaries(summaries: list[VariantSummary], output_dir: Path) -> None:
    """Write summary.json and summary.csv (one row per variant and metric)."""
    (output_dir / "summary.json").write_text(json.dumps([summary.__dict__ for summary in summaries], indent=2) + "\n")
    with (output_dir / "summary.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["variant", "targets", "metric", "mean", "low95", "high95"])
        for summary in summaries:
            for name, (mean, low, high) in summary.metrics.items():
                writer.writerow([summary.variant, summary.targets, name, mean, low, high])
            if summary.calibrated_miou is not None:
                writer.writerow([summary.variant, summary.targets, f"miou_calibrated_t{summary.calibrated_threshold:.2f}", summary.calibrated_miou, "", ""])
            writer.writerow([summary.variant, summary.targets, f"oracle_miou_t{summary.oracle_threshold:.2f}", summary.oracle_miou, "", ""])


def _thumbnail(pixels: np.ndarray, caption: str) -> Image.Image:
    image = Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8))
    image = image.resize((max(1, round(image.width * THUMBNAIL_HEIGHT / image.height)), THUMBNAIL_HEIGHT))
    ImageDraw.Draw(image).text((3, 3), caption, fill="white")
    return image


def write_contact_sheet(rows: list[dict], samples: dict[str, Sample], variants: VariantSettings, primary: str, output_dir: Path) -> Path:
    """Draw the worst and best targets by the primary variant's foreground AP: image, truth, standard, primary."""
    ranked = sorted((row for row in rows if row["variant"] == primary), key=lambda row: row["foreground_average_precision"])
    chosen = ranked[:CONTACT_SHEET_TARGETS] + ranked[-CONTACT_SHEET_TARGETS:] if len(ranked) > 2 * CONTACT_SHEET_TARGETS else ranked
    strips = []
    for row in chosen:
        image, label_map = samples[row["image"]].load()
        pixels = image.astype(np.float32) / 255.0
        maps = render_variants(load_heatmap(heatmap_path(output_dir, row["image"], row["class"])), variants)
        truth = (target_mask(label_map, row["class"]) == 1).astype(np.float32)
        panels = [_thumbnail(pixels, f"{row['image']}: {row['concept']}  AP {row['foreground_average_precision']:.2f}")]
        for heat, caption in ((truth, "ground truth"), (maps["standard (competition)"], "standard"), (maps[primary], primary)):
            blended = overlay_heatmap(mx.array(pixels)[None], mx.array(heat)[None], "jet", 0.5)[0]
            panels.append(_thumbnail(np.array(blended), caption))
        strip = Image.new("RGB", (sum(panel.width for panel in panels), THUMBNAIL_HEIGHT))
        offset = 0
        for panel in panels:
            strip.paste(panel, (offset, 0))
            offset += panel.width
        strips.append(strip)

    sheet = Image.new("RGB", (max(strip.width for strip in strips), THUMBNAIL_HEIGHT * len(strips)), "white")
    for index, strip in enumerate(strips):
        sheet.paste(strip, (0, index * THUMBNAIL_HEIGHT))
    path = output_dir / "contact_sheet.png"
    sheet.save(path)
    return path
