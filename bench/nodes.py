"""Benchmark the pack's rendering nodes through their execute methods, and the torch <-> MLX edges.

Part 1 times Spectral Sharpen (heatmap input, then mask input), Heatmap Overlay and Heatmap To Mask.
The inputs are what ComfyUI passes: IMAGE [1, H, W, 3] and MASK [1, H, W] as CPU float32 torch
tensors, and a captured heatmap of 3 concepts over 4 layers x 2 steps. nodes/tensor_edge.py's
torch_to_mlx and mlx_to_torch are wrapped so that their time is counted separately. The wrapper
evaluates any pending MLX work before it starts the conversion clock, so that lazy work stays in
the node's own share.

Part 2 runs Spectral Sharpen on full-resolution MASKs of four kinds (an upsampled heatmap, a
blurred and a hard binary mask, uniform noise) and reports the time and MLX peak memory against the
size of the map (H x W float32), through the node and through
contrastive_core.spectral.sharpen_spatial alone, with the rank of the truncated SVD where one was
certified.

Run from the repository root, with ComfyUI's comfy_api in .cache/comfyui-0.30.0/ComfyUI or COMFYUI_DIR:
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 .venv/bin/python bench/nodes.py
"""

import argparse
import gc
import importlib
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COMFYUI_DIR = REPOSITORY_ROOT / ".cache" / "comfyui-0.30.0" / "ComfyUI"
PACK_NAME = "contrastive_attention_pack"

# Python puts this script's folder first on sys.path, where bench/nodes.py would shadow any
# top-level `nodes` module. The repository root takes its place, so that bench.heatmap imports.
sys.path[0] = str(REPOSITORY_ROOT)

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.heatmap import mlx_peak_bytes, print_header  # noqa: E402

CONCEPTS = ("dog", "cat", "grass")
LAYER_STEP_PAIRS = 8  # 4 layers x 2 steps
PATCH_SIZE = 16
NODE_PIXELS = (512, 1024)
MASK_PIXELS = (1024, 2048)
SHARPEN_SETTINGS = {"exponent": 2.0, "mode": "spatial", "temperature": 0.1, "upsample": "bilinear"}
MEBIBYTE = 2**20


def load_pack() -> None:
    """Import this repository as a package next to ComfyUI's comfy_api, as ComfyUI itself does."""
    comfyui_dir = Path(os.environ.get("COMFYUI_DIR", "").strip() or DEFAULT_COMFYUI_DIR)
    if not (comfyui_dir / "comfy_api").is_dir():
        sys.exit(f"ComfyUI not found: {comfyui_dir} has no comfy_api; run scripts/setup_env.sh or set COMFYUI_DIR.")
    # Appended, not prepended: ComfyUI's top-level nodes.py must not shadow the pack's nodes/.
    sys.path.append(str(comfyui_dir))
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPOSITORY_ROOT / "__init__.py", submodule_search_locations=[str(REPOSITORY_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)


def pack_module(name: str):
    return importlib.import_module(f"{PACK_NAME}.{name}")


class EdgeTimer:
    """Wraps tensor_edge's torch_to_mlx and mlx_to_torch and adds up the seconds spent in them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._edge = pack_module("nodes.tensor_edge")
        self._to_mlx = self._edge.torch_to_mlx
        self._to_torch = self._edge.mlx_to_torch

    def install(self) -> None:
        self._edge.torch_to_mlx = self._timed_to_mlx
        self._edge.mlx_to_torch = self._timed_to_torch

    def _timed_to_mlx(self, tensor: torch.Tensor) -> mx.array:
        start = time.perf_counter()
        array = self._to_mlx(tensor)
        mx.eval(array)
        self.seconds += time.perf_counter() - start
        return array

    def _timed_to_torch(self, array: mx.array) -> torch.Tensor:
        mx.eval(array)  # the work that produced array belongs to the node, not to the conversion
        start = time.perf_counter()
        tensor = self._to_torch(array)
        self.seconds += time.perf_counter() - start
        return tensor


def random_heatmap(pixels: int, seed: int):
    """Return a ConceptHeatmap of random scores [8, 3, P] for a pixels x pixels image."""
    grid_side = pixels // PATCH_SIZE
    mx.random.seed(seed)
    scores = 50.0 * mx.random.normal((LAYER_STEP_PAIRS, len(CONCEPTS), grid_side * grid_side))  # [N, K, P]
    mx.eval(scores)
    return pack_module("contrastive_core.heatmap").ConceptHeatmap(
        concepts=CONCEPTS,
        target=0,
        anti=(1, 2),
        layer_step_scores=scores,
        grid_height=grid_side,
        grid_width=grid_side,
        image_height=pixels,
        image_width=pixels,
        layers=tuple(range(LAYER_STEP_PAIRS)),
        steps=(0,),
    )


def node_cases(pixels: int) -> dict[str, Callable[[], object]]:
    """Return the node calls to time for one image size, with inputs as ComfyUI passes them."""
    sharpen = pack_module("nodes.sharpen_node").SpectralSharpen
    overlay = pack_module("nodes.overlay_node").HeatmapOverlay
    to_mask = pack_module("nodes.heatmap_mask_node").HeatmapToMask

    heatmap = random_heatmap(pixels, seed=pixels)
    mask = sharpen.execute(heatmap=heatmap, **SHARPEN_SETTINGS).result[0]  # [1, H, W] torch, the usual chain
    generator = torch.Generator().manual_seed(pixels)
    image = torch.rand((1, pixels, pixels, 3), generator=generator)  # [1, H, W, 3] torch
    return {
        "Spectral Sharpen (heatmap)": lambda: sharpen.execute(heatmap=heatmap, **SHARPEN_SETTINGS),
        "Spectral Sharpen (MASK)": lambda: sharpen.execute(mask=mask, **SHARPEN_SETTINGS),
        "Heatmap Overlay (MASK)": lambda: overlay.execute(image=image, mask=mask, colormap="jet", alpha=0.5),
        "Heatmap Overlay (heatmap)": lambda: overlay.execute(image=image, heatmap=heatmap, colormap="jet", alpha=0.5),
        "Heatmap To Mask (contrast)": lambda: to_mask.execute(
            heatmap=heatmap, rendering="contrast", temperature=0.1, upsample="bilinear"
        ),
    }


def time_with_edges(function: Callable[[], object], edges: EdgeTimer, repeats: int) -> tuple[float, float]:
    """Return the median seconds of one call and the median seconds of its edge conversions."""
    function()
    totals, edge_totals = [], []
    for _ in range(repeats):
        gc.collect()
        edges.seconds = 0.0
        start = time.perf_counter()
        function()
        totals.append(time.perf_counter() - start)
        edge_totals.append(edges.seconds)
    return statistics.median(totals), statistics.median(edge_totals)


def run_node_table(pixel_sizes: tuple[int, ...], edges: EdgeTimer, repeats: int) -> None:
    print()
    print("Nodes through execute: median ms, and the torch <-> MLX edge conversions' share")
    print(f"{'node':<28} {'pixels':>6} {'total ms':>9} {'edge ms':>8} {'edge %':>7}")
    for pixels in pixel_sizes:
        for name, function in node_cases(pixels).items():
            total, edge = time_with_edges(function, edges, repeats)
            print(f"{name:<28} {pixels:>6} {total * 1e3:>9.1f} {edge * 1e3:>8.2f} {100 * edge / total:>7.1f}")


def mask_maps(pixels: int) -> dict[str, torch.Tensor]:
    """Return full-resolution MASK test maps [pixels, pixels] of four kinds, float32 in [0, 1].

    heatmap: the pack's own MASK, a random 16-pixel patch grid upsampled bilinearly (rank <= grid
    side). hard: a binary ellipse and rectangle. blurred: that mask under a Gaussian blur of
    sigma = pixels / 128. noise: uniform noise, whose flat spectrum needs the exact SVD.
    """
    upsample = pack_module("contrastive_core.resize").upsample
    generator = torch.Generator().manual_seed(pixels)
    grid_side = pixels // PATCH_SIZE
    grid = mx.array(torch.rand((1, grid_side, grid_side), generator=generator).numpy())
    heatmap = torch.from_numpy(np.array(upsample(grid, pixels, pixels, method="bilinear")[0]))

    coordinates = torch.arange(pixels, dtype=torch.float64) / pixels
    y, x = coordinates[:, None], coordinates[None, :]
    ellipse = (y - 0.45) ** 2 / 0.09 + (x - 0.55) ** 2 / 0.05 < 1
    rectangle = ((y - 0.8).abs() < 0.1) & ((x - 0.2).abs() < 0.12)
    hard = (ellipse | rectangle).to(torch.float32)

    sigma = pixels / 128
    offsets = coordinates[:, None] - coordinates[None, :]  # [pixels, pixels] in units of the side
    blur = torch.exp(-0.5 * (offsets * pixels / sigma) ** 2)
    blur = (blur / blur.sum(dim=1, keepdim=True)).to(torch.float32)  # rows sum to 1
    blurred = blur @ hard @ blur.T

    noise = torch.rand((pixels, pixels), generator=generator)
    return {"heatmap": heatmap, "blurred": blurred, "hard": hard, "noise": noise}


def run_mask_table(pixel_sizes: tuple[int, ...], edges: EdgeTimer, repeats: int) -> None:
    sharpen = pack_module("nodes.sharpen_node").SpectralSharpen
    sharpen_spatial = pack_module("contrastive_core.spectral").sharpen_spatial
    sharpen_truncated = pack_module("contrastive_core.low_rank").sharpen_truncated
    exponent = SHARPEN_SETTINGS["exponent"]

    print()
    print("Spectral Sharpen on a full-resolution MASK [1, H, W]: median ms, and MLX peak above the live")
    print("inputs as a multiple of the map's size (H x W float32); rank is the truncated SVD's, or exact")
    print(f"{'pixels':>6} {'map':<8} {'rank':>5} {'core ms':>8} {'core peak':>10} {'node ms':>8} {'edge %':>7} {'node peak':>10}")
    for pixels in pixel_sizes:
        map_bytes = pixels * pixels * 4
        for kind, values in mask_maps(pixels).items():
            mask = values[None].contiguous()  # [1, H, W]
            grid = mx.array(values.numpy())  # [H, W], the same work without the node
            mx.eval(grid)
            truncated = sharpen_truncated(grid, exponent)
            rank = "exact" if truncated is None else str(truncated.rank)
            del truncated

            def node_call() -> object:
                return sharpen.execute(mask=mask, **SHARPEN_SETTINGS)

            def core_call() -> object:
                return sharpen_spatial(grid, exponent)

            core_total, _ = time_with_edges(core_call, edges, repeats)
            node_total, edge = time_with_edges(node_call, edges, repeats)
            core_peak = mlx_peak_bytes(core_call) / map_bytes
            node_peak = mlx_peak_bytes(node_call) / map_bytes
            print(
                f"{pixels:>6} {kind:<8} {rank:>5} {core_total * 1e3:>8.0f} {core_peak:>9.2f}x "
                f"{node_total * 1e3:>8.0f} {100 * edge / node_total:>7.1f} {node_peak:>9.2f}x"
            )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per node and size (default: 3).")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(NODE_PIXELS), help="Image sides in pixels for the node table (default: 512 1024)."
    )
    parser.add_argument(
        "--mask-sizes",
        type=int,
        nargs="+",
        default=list(MASK_PIXELS),
        help="MASK sides in pixels for the full-resolution sharpening table (default: 1024 2048).",
    )
    arguments = parser.parse_args()
    if arguments.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {arguments.repeats}.")
    for size in [*arguments.sizes, *arguments.mask_sizes]:
        if size < PATCH_SIZE or size % PATCH_SIZE:
            parser.error(f"sizes must be multiples of {PATCH_SIZE} pixels, got {size}.")
    return arguments


def main() -> None:
    arguments = parse_arguments()
    load_pack()
    print_header("Rendering nodes: execute time and torch <-> MLX edge share", arguments.repeats)
    print(f"Spectral Sharpen settings: {SHARPEN_SETTINGS}; overlay: jet, alpha 0.5")
    edges = EdgeTimer()
    edges.install()
    run_node_table(tuple(arguments.sizes), edges, arguments.repeats)
    run_mask_table(tuple(arguments.mask_sizes), edges, arguments.repeats)


if __name__ == "__main__":
    main()
