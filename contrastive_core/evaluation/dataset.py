"""Evaluation samples: PascalVOC folders or explicit image/mask pairs."""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

VOC_CLASS_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
# Concept words for VOC class names that are not plain English words.
VOC_CONCEPTS = {"aeroplane": "airplane", "diningtable": "table", "motorbike": "motorbike", "pottedplant": "potted plant", "tvmonitor": "monitor"}
VOID_LABEL = 255  # VOC marks object borders and unclear pixels with 255; every metric ignores them


@dataclass(frozen=True)
class Sample:
    """One image and its label map [H, W] (class indices, VOID_LABEL ignored)."""

    name: str
    image_path: Path
    label_path: Path

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the RGB image [H, W, 3] uint8 and the label map [H, W] uint8."""
        with Image.open(self.image_path) as image:
            pixels = np.asarray(image.convert("RGB"))
        with Image.open(self.label_path) as labels:
            label_map = np.asarray(labels if labels.mode in ("P", "L") else labels.convert("L"))
        if label_map.shape != pixels.shape[:2]:
            raise ValueError(f"{self.label_path} is {label_map.shape[::-1]} but {self.image_path} is {pixels.shape[1::-1]} (width, height).")
        return pixels, label_map


def voc_samples(root: Path, image_list: Path | None) -> list[Sample]:
    """List the samples of a PascalVOC folder (JPEGImages, SegmentationClass, ImageSets/Segmentation)."""
    if image_list is None:
        image_list = root / "ImageSets" / "Segmentation" / "val.txt"
    if not image_list.is_file():
        raise FileNotFoundError(f"image list {image_list} not found: pass --image-list, e.g. ImageSets/Segmentation/val.txt.")
    names = [line.strip() for line in image_list.read_text().splitlines() if line.strip()]
    samples = [Sample(name, root / "JPEGImages" / f"{name}.jpg", root / "SegmentationClass" / f"{name}.png") for name in names]
    missing = [sample for sample in samples if not sample.image_path.is_file() or not sample.label_path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(samples)} listed images lack a JPEG or a label PNG, e.g. {missing[0].name}.")
    return samples


def pair_samples(pairs_file: Path) -> list[Sample]:
    """List samples from a CSV file of ``image,mask`` paths (relative to the file's folder)."""
    with pairs_file.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    return [Sample(Path(image).stem, pairs_file.parent / image.strip(), pairs_file.parent / mask.strip()) for image, mask in rows]


def classes_present(label_map: np.ndarray) -> list[int]:
    """Return the foreground class indices in a label map (background 0 and void excluded)."""
    return [int(index) for index in np.unique(label_map) if index not in (0, VOID_LABEL)]


def class_concept(class_index: int, class_names: tuple[str, ...], concepts: dict[str, str]) -> str:
    """Return the concept word for a class index."""
    if class_index >= len(class_names):
        raise ValueError(f"label {class_index} has no class name: give --class-names with at least {class_index + 1} names.")
    name = class_names[class_index]
    return concepts.get(name, name)


def iterate_targets(samples: list[Sample], single_class: bool) -> Iterator[tuple[Sample, np.ndarray, np.ndarray, int]]:
    """Yield (sample, image, label map, class index) for each class to locate in each image."""
    for sample in samples:
        image, label_map = sample.load()
        present = classes_present(label_map)
        if single_class and len(present) != 1:
            continue
        for class_index in present:
            yield sample, image, label_map, class_index
