"""The evaluation loop: one from-image capture per image and class, every variant scored, resumable."""

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np
from PIL import Image

from ..heatmap import ConceptHeatmap
from ..mflux_backend.flux_model import FluxModel
from ..mflux_backend.generation import GenerationRequest
from ..mflux_backend.image_analysis import analyse_image
from .dataset import VOC_CLASS_NAMES, VOC_CONCEPTS, Sample, class_concept, iterate_targets
from .variants import VariantSettings, render_variants

logger = logging.getLogger(__name__)

RESULTS_FILE = "per_image.jsonl"
SETTINGS_FILE = "settings.json"
HEATMAP_FOLDER = "heatmaps"  # the captured patch-grid scores per target, to re-render without the model


@dataclass(frozen=True)
class CaptureSettings:
    """Capture settings of an evaluation run; a resumed run must use the same settings."""

    model: str
    anti_concepts: tuple[str, ...] = ("background",)
    prompt_template: str = "a photo of a {concept}"
    steps: int = 4
    noise_strength: float = 0.5
    layers: str = "last 4"
    steps_to_average: str = "all"
    seed: int = 0
    max_side: int = 0  # pixels; 0 analyses the image at its own size
    single_class: bool = False
    class_names: tuple[str, ...] = VOC_CLASS_NAMES
    variants: VariantSettings = VariantSettings()


ScoreFunction = Callable[[np.ndarray, np.ndarray, int], dict[str, float]]


def analysis_pixels(image: np.ndarray, max_side: int) -> mx.array:
    """Return the image [H, W, 3] in 0..1 as MLX, shrunk so that its longer side is at most max_side."""
    height, width, _ = image.shape
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        image = np.asarray(Image.fromarray(image).resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR))
    return mx.array(image.astype(np.float32) / 255.0)


def load_finished(output_dir: Path, settings: CaptureSettings) -> set[tuple[str, int]]:
    """Return the (image, class) pairs already scored; raise if the folder was made with other settings."""
    settings_path = output_dir / SETTINGS_FILE
    current = json.loads(json.dumps(dataclasses.asdict(settings)))
    if settings_path.is_file():
        saved = json.loads(settings_path.read_text())
        if saved != current:
            raise ValueError(f"{output_dir} contains results made with other settings ({settings_path}): choose a new --output, or rerun with the same options.")
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        settings_path.write_text(json.dumps(current, indent=2) + "\n")

    results_path = output_dir / RESULTS_FILE
    if not results_path.is_file():
        return set()
    rows = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
    return {(row["image"], row["class"]) for row in rows}


def heatmap_path(output_dir: Path, image_name: str, class_index: int) -> Path:
    return output_dir / HEATMAP_FOLDER / f"{image_name}_{class_index}.npz"


def save_heatmap(path: Path, heatmap: ConceptHeatmap) -> None:
    """Store a heatmap's scores [N, K, P] and metadata in a compressed NumPy file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {field.name: getattr(heatmap, field.name) for field in dataclasses.fields(heatmap)}
    fields["layer_step_scores"] = np.array(heatmap.layer_step_scores)
    np.savez_compressed(path, **{name: np.asarray(value) for name, value in fields.items()})


def load_heatmap(path: Path) -> ConceptHeatmap:
    """Read a heatmap written by save_heatmap."""
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    scalars = {name: int(fields[name]) for name in ("target", "grid_height", "grid_width", "image_height", "image_width")}
    tuples = {name: tuple(fields[name].tolist()) for name in ("concepts", "anti", "layers", "steps")}
    return ConceptHeatmap(layer_step_scores=mx.array(fields["layer_step_scores"]), **scalars, **tuples)


def evaluate_target(model: FluxModel, settings: CaptureSettings, image: np.ndarray, concept: str) -> ConceptHeatmap:
    """Analyse one image for one concept; the heatmap maps to the image's own size."""
    anti = tuple(name for name in settings.anti_concepts if name != concept) or ("background",)
    request = GenerationRequest(
        prompt=settings.prompt_template.format(concept=concept),
        target=concept,
        anti_concepts=anti,
        seed=settings.seed,
        steps=settings.steps,
        layers=settings.layers,
        score_steps=settings.steps_to_average,
    )
    result = analyse_image(model, analysis_pixels(image, settings.max_side), request, settings.noise_strength)
    height, width, _ = image.shape
    return dataclasses.replace(result.heatmap, image_height=height, image_width=width)


def run_evaluation(
    model: FluxModel,
    samples: list[Sample],
    settings: CaptureSettings,
    output_dir: Path,
    score: ScoreFunction,
    on_target: Callable[[int], None] | None = None,
) -> Path:
    """Score every (image, class) target not yet in the output folder; return the results file."""
    finished = load_finished(output_dir, settings)
    results_path = output_dir / RESULTS_FILE
    with results_path.open("a") as results:
        for done, (sample, image, label_map, class_index) in enumerate(iterate_targets(samples, settings.single_class), start=1):
            if (sample.name, class_index) not in finished:
                concept = class_concept(class_index, settings.class_names, VOC_CONCEPTS)
                heatmap = evaluate_target(model, settings, image, concept)
                save_heatmap(heatmap_path(output_dir, sample.name, class_index), heatmap)
                maps = render_variants(heatmap, settings.variants)
                lines = [
                    json.dumps({"image": sample.name, "class": class_index, "concept": concept, "variant": name, **score(heat, label_map, class_index)})
                    for name, heat in maps.items()
                ]
                results.write("\n".join(lines) + "\n")
                results.flush()  # a finished target survives an interrupt
            if on_target is not None:
                on_target(done)
    return results_path
