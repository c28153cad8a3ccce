"""Benchmark mflux's stock concept heatmap against this pack's heatmap math, from the same attention outputs.

Per (layer, step), FLUX's joint attention yields image outputs [1, P, D] and concept-stream outputs
[1, C, D], with D = 3072 (FLUX hidden size). C = 256 is the padded T5 length that mflux uses for
FLUX.1 schnell. The random outputs are float32 (mflux runs FLUX in bfloat16), because MLX's CPU
backend has BLAS only for float32. Four layers and two steps are captured; mflux keeps every layer
and step, so the stock path's share of memory grows with that count.

Variants, timed in one process and interleaved within each repeat:
  a       mflux's ConceptUtil._compute_heatmap + _to_heatmap_image (what create_heatmap runs), for
          one concept, as mflux's concept attention renders one concept per generation.
  reduce  this pack's ScoreAccumulator: attention outputs to [K, P] scores per (layer, step), stacked
          to [N, K, P]. During generation this runs inside the transformer forward pass.
  b       from the [N, K, P] scores: plain, competition and contrast maps (spatial spectral
          sharpening and temperature softmax), the three upsampled to pixels (bilinear), and the
          contrast map colour-blended over an RGB image.
  c       from the [N, K, P] scores: the contrast map upsampled to a MASK, as Spectral Sharpen returns it.

Run from the repository root:
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 .venv/bin/python bench/heatmap.py
"""

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

import mlx.core as mx  # noqa: E402
from mflux.models.flux.variants.concept_attention.attention_data import (  # noqa: E402
    GenerationAttentionData,
    TimestepAttentionData,
)
from mflux.models.flux.variants.concept_attention.concept_util import ConceptUtil  # noqa: E402
from mflux.models.flux.variants.concept_attention.joint_transformer_block_concept import (  # noqa: E402
    LayerAttentionData,
)

from contrastive_core.concepts import ConceptSpans  # noqa: E402
from contrastive_core.heatmap import ConceptHeatmap, render_competition, render_contrast, render_plain  # noqa: E402
from contrastive_core.options import PATCH_SIZE  # noqa: E402
from contrastive_core.overlay import overlay_heatmap  # noqa: E402
from contrastive_core.resize import upsample  # noqa: E402
from contrastive_core.score_accumulator import ScoreAccumulator  # noqa: E402

HIDDEN_SIZE = 3072  # FLUX.1 joint-attention width
CONCEPT_TOKENS = 256  # mflux pads the concept prompt to the T5 length of FLUX.1 schnell
CONCEPTS = ("dog", "cat", "grass")
TARGET = 0
ANTI = (1, 2)
LAYERS = (0, 1, 2, 3)
STEPS = (0, 1)
GRID_SIDES = (32, 64, 128)
MEBIBYTE = 2**20


def machine_description() -> str:
    """Return one line naming the CPU count, platform and Python, MLX and NumPy versions."""
    import numpy as np

    blas = os.environ.get("LD_PRELOAD", "") or "none"
    return (
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
        f"MLX {mx.__version__}, NumPy {np.__version__}, LD_PRELOAD {blas}"
    )


def print_header(title: str, repeats: int) -> None:
    print(title)
    print(machine_description())
    print(
        f"CPU timings: median of {repeats} repeats after 1 warm-up run. Read them as ratios between "
        "variants on the same machine; absolute times on Apple silicon differ."
    )


def run_eval(function: Callable[[], object]) -> object:
    """Call function and evaluate every MLX array it returns, so that no lazy work escapes the timer."""
    result = function()
    arrays = result if isinstance(result, (list, tuple)) else [result]
    mx.eval(*[array for array in arrays if isinstance(array, mx.array)])
    return result


def median_times(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Time each variant `repeats` times, interleaved, after one warm-up call each: median seconds."""
    for function in variants.values():
        run_eval(function)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, function in variants.items():
            gc.collect()
            start = time.perf_counter()
            run_eval(function)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def mlx_peak_bytes(function: Callable[[], object]) -> int:
    """Return the MLX memory that one call allocates at its peak, above the arrays already alive."""
    gc.collect()
    baseline = mx.get_active_memory()
    mx.reset_peak_memory()
    run_eval(function)
    return mx.get_peak_memory() - baseline


def python_peak_bytes(function: Callable[[], object]) -> int:
    """Return the peak of Python and NumPy allocations (tracemalloc) during one call."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def attention_outputs(grid_side: int, seed: int) -> GenerationAttentionData:
    """Return random mflux attention data: per step and layer, image [1, P, D] and concepts [1, C, D]."""
    mx.random.seed(seed)
    patches = grid_side * grid_side
    data = GenerationAttentionData()
    for step in STEPS:
        layers = []
        for layer in LAYERS:
            image = mx.random.normal((1, patches, HIDDEN_SIZE))  # [1, P, D]
            concept = mx.random.normal((1, CONCEPT_TOKENS, HIDDEN_SIZE))  # [1, C, D]
            mx.eval(image, concept)
            layers.append(LayerAttentionData(layer=layer, img_attention=image, concept_attention=concept))
        data.append(TimestepAttentionData(t=step, attention_information=layers))
    return data


def concept_spans() -> ConceptSpans:
    """Return spans that tile the C concept tokens among the concepts.

    This pack feeds only the concepts' real tokens (a few each), but the reduction cost is
    dominated by the [K, D] x [D, P] product, which does not depend on C.
    """
    bounds = [round(index * CONCEPT_TOKENS / len(CONCEPTS)) for index in range(len(CONCEPTS) + 1)]
    return ConceptSpans(concepts=CONCEPTS, spans=tuple(zip(bounds[:-1], bounds[1:])))


def reduce_scores(data: GenerationAttentionData, spans: ConceptSpans) -> mx.array:
    """Reduce the attention outputs to this pack's stacked scores [N, K, P]."""
    accumulator = ScoreAccumulator(spans, LAYERS, STEPS)
    for step_data in data.timestep_data:
        for layer_data in step_data.attention_information:
            accumulator.add(layer_data.layer, step_data.t, layer_data.concept_attention, layer_data.img_attention)
    return accumulator.stacked()


def make_heatmap(scores: mx.array, grid_side: int) -> ConceptHeatmap:
    pixels = grid_side * PATCH_SIZE
    return ConceptHeatmap(
        concepts=CONCEPTS,
        target=TARGET,
        anti=ANTI,
        layer_step_scores=scores,
        grid_height=grid_side,
        grid_width=grid_side,
        image_height=pixels,
        image_width=pixels,
        layers=LAYERS,
        steps=STEPS,
    )


def stock_heatmap_array(data: GenerationAttentionData, pixels: int):
    """Run mflux's score computation, which returns a NumPy array [C, h, w] and so evaluates its MLX work."""
    return ConceptUtil._compute_heatmap(
        attention_data=data, height=pixels, width=pixels, layer_indices=list(LAYERS), timesteps=list(STEPS)
    )


def stock_heatmap(data: GenerationAttentionData, pixels: int):
    """Run what mflux's ConceptUtil.create_heatmap runs: the scores, then the coloured PIL image."""
    heatmap = stock_heatmap_array(data, pixels)
    return ConceptUtil._to_heatmap_image(heatmap=heatmap, height=pixels, width=pixels)


def render_all(scores: mx.array, grid_side: int, image: mx.array) -> list[mx.array]:
    """Render plain, competition and contrast maps at pixel size, and the contrast overlay: variant b."""
    heatmap = make_heatmap(scores, grid_side)
    grids = mx.stack([render_plain(heatmap), render_competition(heatmap), render_contrast(heatmap)])  # [3, h, w]
    maps = upsample(grids, heatmap.image_height, heatmap.image_width, method="bilinear")  # [3, H, W]
    overlay = overlay_heatmap(image, maps[2:3], "jet", 0.5)  # [1, H, W, 3]
    return [maps, overlay]


def render_mask(scores: mx.array, grid_side: int) -> mx.array:
    """Render the contrast map as a MASK [1, H, W]: variant c."""
    heatmap = make_heatmap(scores, grid_side)
    grid = render_contrast(heatmap)  # [h, w]
    return upsample(grid[None], heatmap.image_height, heatmap.image_width, method="bilinear")


def benchmark_grid(grid_side: int, repeats: int) -> dict[str, float]:
    """Return the median seconds and peak bytes of each variant for one patch grid, by column name."""
    pixels = grid_side * PATCH_SIZE
    data = attention_outputs(grid_side, seed=grid_side)
    spans = concept_spans()
    scores = reduce_scores(data, spans)
    image = mx.random.uniform(shape=(1, pixels, pixels, 3))  # [1, H, W, 3]
    mx.eval(scores, image)
    stock_array = stock_heatmap_array(data, pixels)

    variants = {
        "a": lambda: stock_heatmap(data, pixels),
        "reduce": lambda: reduce_scores(data, spans),
        "b": lambda: render_all(scores, grid_side, image),
        "c": lambda: render_mask(scores, grid_side),
    }
    row = {f"{name} s": seconds for name, seconds in median_times(variants, repeats).items()}
    row["a mlx B"] = mlx_peak_bytes(lambda: stock_heatmap_array(data, pixels))
    row["a numpy B"] = python_peak_bytes(
        lambda: ConceptUtil._to_heatmap_image(heatmap=stock_array, height=pixels, width=pixels)
    )
    for name in ("reduce", "b", "c"):
        row[f"{name} B"] = mlx_peak_bytes(variants[name])
    del data
    gc.collect()
    return row


def print_tables(rows: dict[int, dict[str, float]]) -> None:
    print()
    print("Median time (ms)")
    print(
        f"{'pixels':>7} {'grid':>8} {'a stock':>9} {'reduce':>8} {'b ours':>8} {'c mask':>8} "
        f"{'b/a':>7} {'c/a':>7} {'(r+b)/a':>8}"
    )
    for grid_side, row in rows.items():
        a, reduce, b, c = (row[f"{name} s"] for name in ("a", "reduce", "b", "c"))
        grid = f"{grid_side}x{grid_side}"
        print(
            f"{grid_side * PATCH_SIZE:>7} {grid:>8} {a * 1e3:>9.1f} {reduce * 1e3:>8.1f} {b * 1e3:>8.1f} "
            f"{c * 1e3:>8.1f} {b / a:>7.4f} {c / a:>7.4f} {(reduce + b) / a:>8.4f}"
        )

    print()
    print("Peak memory above the live inputs (MiB): MLX peak, and tracemalloc for a's NumPy/PIL part")
    print(f"{'pixels':>7} {'a MLX':>8} {'a NumPy':>8} {'reduce':>8} {'b ours':>8} {'c mask':>8}")
    for grid_side, row in rows.items():
        values = [row[key] / MEBIBYTE for key in ("a mlx B", "a numpy B", "reduce B", "b B", "c B")]
        print(f"{grid_side * PATCH_SIZE:>7} " + " ".join(f"{value:>8.1f}" for value in values))


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per variant and grid (default: 3).")
    parser.add_argument(
        "--grids",
        type=int,
        nargs="+",
        default=list(GRID_SIDES),
        help="Patch-grid sides to run; 16 pixels per patch (default: 32 64 128).",
    )
    arguments = parser.parse_args()
    if arguments.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {arguments.repeats}.")
    return arguments


def main() -> None:
    arguments = parse_arguments()
    print_header("Concept heatmap: mflux stock path (a) against this pack (reduce, b, c)", arguments.repeats)
    print(
        f"inputs: {len(CONCEPTS)} concepts, {len(LAYERS)} layers x {len(STEPS)} steps, "
        f"img_attention [1, P, {HIDDEN_SIZE}] and concept_attention [1, {CONCEPT_TOKENS}, {HIDDEN_SIZE}] float32"
    )
    rows = {grid_side: benchmark_grid(grid_side, arguments.repeats) for grid_side in arguments.grids}
    print_tables(rows)


if __name__ == "__main__":
    main()
