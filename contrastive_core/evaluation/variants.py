"""The heatmap variants compared by the evaluation, all rendered from one capture."""

from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ..heatmap import ConceptHeatmap, render_competition, render_contrast, render_plain
from ..resize import upsample


@dataclass(frozen=True)
class VariantSettings:
    """Sharpened variants to render besides the standard, plain and contrast maps."""

    exponents: tuple[float, ...] = (2.0,)
    modes: tuple[str, ...] = ("spatial", "consensus")
    temperatures: tuple[float, ...] = (0.1,)


def variant_names(settings: VariantSettings) -> list[str]:
    """Return the variant names in report order."""
    names = ["standard (competition)", "plain", *(f"contrast T={t:g}" for t in settings.temperatures)]
    for mode in settings.modes:
        for exponent in settings.exponents:
            names.extend(f"contrast + {mode} e={exponent:g} T={t:g}" for t in settings.temperatures)
    return names


def render_variants(heatmap: ConceptHeatmap, settings: VariantSettings) -> dict[str, np.ndarray]:
    """Render every variant at the image size: name -> [H, W] float32 in [0, 1]."""
    grids = {"standard (competition)": render_competition(heatmap), "plain": render_plain(heatmap)}
    for temperature in settings.temperatures:
        grids[f"contrast T={temperature:g}"] = render_contrast(heatmap, exponent=1.0, temperature=temperature)
    for mode in settings.modes:
        for exponent in settings.exponents:
            for temperature in settings.temperatures:
                name = f"contrast + {mode} e={exponent:g} T={temperature:g}"
                grids[name] = render_contrast(heatmap, exponent=exponent, mode=mode, temperature=temperature)

    names = list(grids)
    stacked = upsample(mx.stack([grids[name] for name in names]), heatmap.image_height, heatmap.image_width)  # [V, H, W]
    maps = np.array(stacked)
    return {name: maps[index] for index, name in enumerate(names)}
