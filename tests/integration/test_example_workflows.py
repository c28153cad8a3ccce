"""Every shared workflow in example_workflows/ converts to an API prompt and runs in a real ComfyUI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .comfy_server import ComfyClient
from .example_inputs import write_example_inputs
from .tiny_native import use_tiny_models

pytestmark = pytest.mark.integration

WORKFLOW_DIR = Path(__file__).resolve().parents[2] / "example_workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.json"))
TEST_MODEL_SETTINGS = {"model": "random test model"}
SMALL_GENERATION = {"width": 64, "height": 64, "steps": 2, "layers": "all"}  # the test model has 2 joint blocks


def use_test_model(prompt: dict) -> dict:
    """Point loaders at the random-weight models and shrink generations; returns the prompt."""
    for node in prompt.values():
        if node["class_type"] == "ContrastiveAttention_MfluxLoader":
            node["inputs"].update(TEST_MODEL_SETTINGS)
        if node["class_type"] == "ContrastiveAttention_Generate":
            node["inputs"].update(SMALL_GENERATION)
    return use_tiny_models(prompt)


def test_example_workflows_exist() -> None:
    names = {path.name for path in WORKFLOWS}

    assert "standard_vs_contrastive.json" in names
    assert "sharpen_and_overlay_photo.json" in names
    assert "native_flux_contrastive.json" in names


@pytest.mark.parametrize("workflow_path", WORKFLOWS, ids=lambda path: path.stem)
def test_example_workflow_runs(comfy_server: ComfyClient, tiny_model_files: Path, workflow_path: Path) -> None:
    write_example_inputs(comfy_server.input_dir)
    workflow = json.loads(workflow_path.read_text())
    prompt = use_test_model(comfy_server.convert_workflow(workflow))
    save_nodes = [node_id for node_id, node in prompt.items() if node["class_type"] == "SaveImage"]

    result = comfy_server.run(prompt, timeout=900)

    assert result.succeeded, result.error
    assert len(save_nodes) >= 3
    for node_id in save_nodes:
        paths = comfy_server.image_paths(result, node_id)
        assert len(paths) == 1
        with Image.open(paths[0]) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        assert pixels.std() > 0.0, f"{paths[0].name} is blank"


def test_widget_values_map_to_inputs(comfy_server: ComfyClient) -> None:
    workflow = json.loads((WORKFLOW_DIR / "standard_vs_contrastive.json").read_text())

    prompt = comfy_server.convert_workflow(workflow)

    generate = next(node for node in prompt.values() if node["class_type"] == "ContrastiveAttention_Generate")
    assert generate["inputs"]["concept"] == "dragon"
    assert generate["inputs"]["anti_concept"] == "background"
    assert generate["inputs"]["seed"] == 42
    assert generate["inputs"]["width"] == 1024
    assert generate["inputs"]["layers"] == "last 4"
    assert generate["inputs"]["temperature"] == pytest.approx(0.1)
    # The workflow was saved before noise_strength existed; the new input takes its default.
    assert generate["inputs"].get("noise_strength", 0.5) == pytest.approx(0.5)
    sharpen_exponents = sorted(
        node["inputs"]["exponent"] for node in prompt.values() if node["class_type"] == "ContrastiveAttention_SpectralSharpen"
    )
    assert sharpen_exponents == [1.5, 2.0, 3.0]
