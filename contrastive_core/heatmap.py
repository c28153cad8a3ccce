"""Captured concept scores of one image, and the heatmaps rendered from them."""

import numbers
from dataclasses import dataclass

import mlx.core as mx

from .errors import check_finite, check_index, check_positive
from .maps import competition_map, contrast_map, plain_map
from .options import DEFAULT_EXPONENT, DEFAULT_TEMPERATURE, SHARPEN_MODES
from .spectral import sharpen_consensus, sharpen_spatial
from .temperature import temperature_softmax


@dataclass(frozen=True)
class ConceptHeatmap:
    """Per-(layer, step) concept scores [N, K, P] over a grid_height x grid_width patch grid."""

    concepts: tuple[str, ...]
    target: int
    anti: tuple[int, ...]
    layer_step_scores: mx.array
    grid_height: int
    grid_width: int
    image_height: int
    image_width: int
    layers: tuple[int, ...]
    steps: tuple[int, ...]

    def __post_init__(self) -> None:
        for name in ("concepts", "anti", "layers", "steps"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("grid_height", "grid_width", "image_height", "image_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        scores = self.layer_step_scores
        if scores.ndim != 3:
            raise ValueError(
                "layer_step_scores must have shape [layer-steps, concepts, patches], "
                f"got shape {tuple(scores.shape)}."
            )
        pair_count, concept_count, patch_count = scores.shape
        if pair_count < 1:
            raise ValueError("layer_step_scores must hold at least 1 (layer, step) pair, got 0.")
        if concept_count != len(self.concepts):
            raise ValueError(
                f"layer_step_scores has {concept_count} concepts but concepts names "
                f"{len(self.concepts)}: {self.concepts!r}."
            )
        if patch_count != self.grid_height * self.grid_width:
            raise ValueError(
                f"layer_step_scores has {patch_count} patches, but the grid is "
                f"{self.grid_height} x {self.grid_width} = {self.grid_height * self.grid_width}."
            )
        check_index("target", self.target, concept_count)
        for index in self.anti:
            check_index("anti index", index, concept_count)
        object.__setattr__(self, "layer_step_scores", scores.astype(mx.float32))

    @property
    def scores(self) -> mx.array:
        """Concept scores [K, P] averaged over the (layer, step) pairs."""
        return mx.mean(self.layer_step_scores, axis=0)  # [K, P], mean over (layer, step) pairs


def render_contrast(
    heatmap: ConceptHeatmap,
    exponent: float = DEFAULT_EXPONENT,
    mode: str = SHARPEN_MODES[0],
    temperature: float = DEFAULT_TEMPERATURE,
) -> mx.array:
    """Render target minus anti-concepts, sharpened and temperature-softmaxed: [h, w] in [0, 1]."""
    check_positive("exponent", exponent)
    check_positive("temperature", temperature)
    if mode not in SHARPEN_MODES:
        raise ValueError(f"mode must be one of {SHARPEN_MODES}, got {mode!r}.")
    if not heatmap.anti:
        raise ValueError("The contrast heatmap needs at least one anti-concept; anti is empty.")
    check_finite(heatmap.layer_step_scores, "captured concept scores")
    grid_shape = (heatmap.grid_height, heatmap.grid_width)

    if mode == "spatial":
        contrast = contrast_map(heatmap.scores, heatmap.target, heatmap.anti)  # [P]
        sharpened = sharpen_spatial(contrast.reshape(grid_shape), exponent).reshape(-1)
    else:
        stack = contrast_map(heatmap.layer_step_scores, heatmap.target, heatmap.anti)  # [N, P]
        sharpened = sharpen_consensus(stack, exponent)  # [P]
    check_finite(sharpened, f"{mode} spectral sharpening output")

    heat = temperature_softmax(sharpened[None, :], temperature)[0]  # [P]
    check_finite(heat, "contrast heatmap")
    return heat.reshape(grid_shape)


def render_plain(heatmap: ConceptHeatmap) -> mx.array:
    """Render the target's own scores, min-max normalised: [h, w] in [0, 1]."""
    check_finite(heatmap.layer_step_scores, "captured concept scores")
    plain = plain_map(heatmap.scores, heatmap.target)  # [P]
    return plain.reshape(heatmap.grid_height, heatmap.grid_width)


def render_competition(heatmap: ConceptHeatmap) -> mx.array:
    """Render ConceptAttention's softmax-over-concepts map of the target: [h, w] in [0, 1]."""
    check_finite(heatmap.layer_step_scores, "captured concept scores")
    competition = competition_map(heatmap.layer_step_scores, heatmap.target)  # [P]
    return competition.reshape(heatmap.grid_height, heatmap.grid_width)


def heatmap_items(value: object, input_name: str = "heatmap") -> tuple[ConceptHeatmap, ...]:
    """Return the heatmaps of a CONCEPT_HEATMAP value: one ConceptHeatmap, or a batch (a tuple of them).

    A batch contains one heatmap per image of a generated batch; all share the image size.
    """
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not items or not all(isinstance(item, ConceptHeatmap) for item in items):
        kinds = sorted({type(item).__name__ for item in items}) or ["an empty batch"]
        raise ValueError(f"{input_name} must be a CONCEPT_HEATMAP, got {', '.join(kinds)}.")
    sizes = {(item.image_height, item.image_width) for item in items}
    if len(sizes) > 1:
        raise ValueError(f"{input_name} is a batch of heatmaps with different image sizes {sorted(sizes)}.")
    return tuple(items)
