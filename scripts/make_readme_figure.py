"""Draw docs/overview.png: what each step of the pipeline does to a leaky concept heatmap.

The scene and its concept scores are synthetic (drawn here), so the figure needs no model and no
downloaded data. The maps are computed by this pack's own MLX core.
"""

import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from contrastive_core.heatmap import ConceptHeatmap, render_contrast, render_plain  # noqa: E402
from contrastive_core.overlay import overlay_heatmap  # noqa: E402
from contrastive_core.resize import upsample  # noqa: E402

SIZE = 256  # pixels
GRID = SIZE // 16  # patches per side
PANEL_GAP = 8
CAPTION_HEIGHT = 22


def draw_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a sky-mountain-dragon picture [H, W, 3] uint8, the dragon mask and the mountain mask."""
    scene = Image.new("RGB", (SIZE, SIZE), (150, 190, 235))
    draw = ImageDraw.Draw(scene)
    draw.polygon([(0, 256), (90, 120), (150, 170), (210, 90), (256, 140), (256, 256)], fill=(105, 95, 85))
    dragon = Image.new("L", (SIZE, SIZE), 0)
    dragon_draw = ImageDraw.Draw(dragon)
    dragon_draw.ellipse((70, 60, 170, 110), fill=255)
    dragon_draw.polygon([(150, 75), (215, 40), (185, 95)], fill=255)
    scene.paste((170, 40, 30), mask=dragon)
    mountain = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mountain).polygon([(0, 256), (90, 120), (150, 170), (210, 90), (256, 140), (256, 256)], fill=255)
    return np.asarray(scene), np.asarray(dragon) > 0, np.asarray(mountain) > 0


def patch_means(mask: np.ndarray) -> np.ndarray:
    """Average a pixel mask over 16 x 16 patches: [GRID * GRID]."""
    return mask.reshape(GRID, 16, GRID, 16).mean(axis=(1, 3)).reshape(-1)


def synthetic_scores(dragon: np.ndarray, mountain: np.ndarray) -> mx.array:
    """Scores [N, K, P] that leak: the concept also lights up the mountain it sits on."""
    blurred = np.asarray(Image.fromarray(dragon.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(20))) / 255.0
    rng = np.random.default_rng(0)
    stack = []
    for _ in range(8):
        concept = 3.0 * patch_means(dragon) + 2.0 * patch_means(blurred > 0.1) + 1.2 * patch_means(mountain)
        background = 1.5 * (1.0 - patch_means(dragon)) + 0.9 * patch_means(mountain)
        noise = rng.normal(0.0, 0.35, size=(2, GRID * GRID))
        stack.append(np.stack([concept, background]) + noise)
    return mx.array(np.stack(stack).astype(np.float32))


def panel(image: mx.array, grid: mx.array, caption: str, alpha: float = 0.55) -> Image.Image:
    heat = upsample(grid[None], SIZE, SIZE)
    blended = overlay_heatmap(image[None], heat, "jet", alpha)[0]
    picture = Image.fromarray((np.array(blended) * 255).astype(np.uint8))
    framed = Image.new("RGB", (SIZE, SIZE + CAPTION_HEIGHT), "white")
    framed.paste(picture, (0, 0))
    ImageDraw.Draw(framed).text((4, SIZE + 4), caption, fill="black", font=ImageFont.load_default())
    return framed


def main() -> None:
    scene, dragon, mountain = draw_scene()
    heatmap = ConceptHeatmap(
        concepts=("dragon", "background"),
        target=0,
        anti=(1,),
        layer_step_scores=synthetic_scores(dragon, mountain),
        grid_height=GRID,
        grid_width=GRID,
        image_height=SIZE,
        image_width=SIZE,
        layers=(15, 16, 17, 18),
        steps=(0, 1),
    )
    image = mx.array(scene.astype(np.float32) / 255.0)
    panels = [
        panel(image, mx.zeros((GRID, GRID)), "image", alpha=0.0),
        panel(image, render_plain(heatmap), "plain attention (leaks)"),
        panel(image, render_contrast(heatmap, exponent=1.0), "dragon - background"),
        panel(image, render_contrast(heatmap, exponent=2.0), "+ spectral sharpening"),
    ]
    figure = Image.new("RGB", (len(panels) * (SIZE + PANEL_GAP) - PANEL_GAP, SIZE + CAPTION_HEIGHT), "white")
    for index, picture in enumerate(panels):
        figure.paste(picture, (index * (SIZE + PANEL_GAP), 0))
    figure.save(REPO_ROOT / "docs" / "overview.png")


if __name__ == "__main__":
    main()
