"""The pack's nodes inside a real ComfyUI server, driven over HTTP like the browser does."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from .comfy_server import ComfyClient, PromptRejectedError
from .example_inputs import ExampleInputs, write_example_inputs

pytestmark = pytest.mark.integration

GENERATION_TIMEOUT = 600.0  # seconds; a random-weight FLUX step takes about a second on a 2-core CPU
WIDTH, HEIGHT = 64, 48  # a 4 x 3 patch grid

EXPECTED_INPUTS = {
    "ContrastiveAttention_MfluxLoader": ["model", "local_path", "quantize", "loras"],
    "ContrastiveAttention_Generate": [
        "model", "prompt", "concept", "anti_concept", "extra_concepts", "seed", "width", "height",
        "steps", "guidance", "layers", "steps_to_average", "temperature", "image", "noise_strength",
    ],
    "ContrastiveAttention_FluxSampler": [
        "model", "clip", "positive", "negative", "latent_image", "seed", "steps", "cfg", "sampler_name",
        "scheduler", "denoise", "concept", "anti_concept", "extra_concepts", "layers", "steps_to_average",
    ],
    "ContrastiveAttention_HeatmapToMask": ["heatmap", "rendering", "temperature", "upsample"],
    # ComfyUI lists required inputs before optional ones; the optional ones here are sockets, not widgets.
    "ContrastiveAttention_SpectralSharpen": ["exponent", "mode", "temperature", "upsample", "heatmap", "mask"],
    "ContrastiveAttention_HeatmapOverlay": ["image", "colormap", "alpha", "mask", "heatmap"],
}
EXPECTED_OUTPUTS = {
    "ContrastiveAttention_MfluxLoader": ["MFLUX_CONCEPT_MODEL"],
    "ContrastiveAttention_Generate": ["IMAGE", "MASK", "MASK", "CONCEPT_HEATMAP"],
    "ContrastiveAttention_FluxSampler": ["LATENT", "CONCEPT_HEATMAP"],
    "ContrastiveAttention_HeatmapToMask": ["MASK"],
    "ContrastiveAttention_SpectralSharpen": ["MASK", "CONCEPT_HEATMAP"],
    "ContrastiveAttention_HeatmapOverlay": ["IMAGE"],
}


def ordered_inputs(schema: dict) -> list[str]:
    order = schema["input_order"]
    return [*order.get("required", []), *order.get("optional", [])]


def generation_prompt(**overrides) -> dict:
    inputs = {
        "model": ["1", 0],
        "prompt": "a dragon breathing fire on a mountain",
        "concept": "dragon",
        "anti_concept": "background",
        "extra_concepts": "sky",
        "seed": 7,
        "width": WIDTH,
        "height": HEIGHT,
        "steps": 2,
        "guidance": 3.5,
        "layers": "all",
        "steps_to_average": "all",
        "temperature": 0.1,
    }
    inputs.update(overrides)
    return {
        "1": {
            "class_type": "ContrastiveAttention_MfluxLoader",
            "inputs": {"model": "random test model", "local_path": "", "quantize": "none", "loras": ""},
        },
        "2": {"class_type": "ContrastiveAttention_Generate", "inputs": inputs},
    }


def save(prompt: dict, node_id: str, source: list, prefix: str) -> None:
    prompt[node_id] = {"class_type": "SaveImage", "inputs": {"images": source, "filename_prefix": prefix}}


def mask_to_image(prompt: dict, node_id: str, source: list) -> list:
    prompt[node_id] = {"class_type": "MaskToImage", "inputs": {"mask": source}}
    return [node_id, 0]


def read_png(comfy_server: ComfyClient, result, node_id: str) -> np.ndarray:
    paths = comfy_server.image_paths(result, node_id)
    assert len(paths) == 1, f"node {node_id} saved {paths}"
    with Image.open(paths[0]) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


@pytest.fixture(scope="module")
def example_inputs(comfy_server: ComfyClient) -> ExampleInputs:
    return write_example_inputs(comfy_server.input_dir)


@pytest.mark.parametrize("node_id", sorted(EXPECTED_INPUTS))
def test_node_schema_matches_contract(comfy_server: ComfyClient, node_id: str) -> None:
    schema = comfy_server.object_info(node_id)

    assert ordered_inputs(schema) == EXPECTED_INPUTS[node_id]
    assert schema["output"] == EXPECTED_OUTPUTS[node_id]
    assert schema["category"] == "concept attention"
    assert schema["description"]
    for section in ("required", "optional"):
        for name, spec in schema["input"].get(section, {}).items():
            assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"


def test_loader_offers_test_model_when_enabled(comfy_server: ComfyClient) -> None:
    schema = comfy_server.object_info("ContrastiveAttention_MfluxLoader")
    options = schema["input"]["required"]["model"]

    assert "random test model" in str(options)
    assert "schnell" in str(options)


def test_generation_writes_image_and_masks(comfy_server: ComfyClient) -> None:
    prompt = generation_prompt()
    save(prompt, "3", ["2", 0], "pack/generated")
    save(prompt, "4", mask_to_image(prompt, "5", ["2", 1]), "pack/contrast")
    save(prompt, "6", mask_to_image(prompt, "7", ["2", 2]), "pack/plain")
    prompt["8"] = {
        "class_type": "ContrastiveAttention_SpectralSharpen",
        "inputs": {"heatmap": ["2", 3], "exponent": 2.0, "mode": "consensus", "temperature": 0.1, "upsample": "nearest"},
    }
    prompt["9"] = {
        "class_type": "ContrastiveAttention_HeatmapOverlay",
        "inputs": {"image": ["2", 0], "mask": ["8", 0], "colormap": "jet", "alpha": 0.6},
    }
    save(prompt, "10", ["9", 0], "pack/overlay")

    result = comfy_server.run(prompt, timeout=GENERATION_TIMEOUT)

    assert result.succeeded, result.error
    generated = read_png(comfy_server, result, "3")
    contrast = read_png(comfy_server, result, "4")
    plain = read_png(comfy_server, result, "6")
    overlay = read_png(comfy_server, result, "10")
    for image in (generated, contrast, plain, overlay):
        assert image.shape == (HEIGHT, WIDTH, 3)
    assert contrast.max() > 200  # the temperature softmax peaks at 1.0 on the patch grid
    assert plain.min() < 30  # min-max normalised
    assert plain.max() > 200
    assert not np.array_equal(contrast, plain)
    assert np.abs(overlay - generated).mean() > 1.0


def test_competition_rendering_differs(comfy_server: ComfyClient) -> None:
    prompt = generation_prompt(anti_concept="background, sky", extra_concepts="")
    for node_id, rendering in (("3", "plain"), ("5", "competition"), ("7", "contrast")):
        prompt[node_id] = {
            "class_type": "ContrastiveAttention_HeatmapToMask",
            "inputs": {"heatmap": ["2", 3], "rendering": rendering, "temperature": 0.1, "upsample": "nearest"},
        }
        save(prompt, str(int(node_id) + 1), mask_to_image(prompt, f"{node_id}0", [node_id, 0]), f"pack/{rendering}")

    result = comfy_server.run(prompt, timeout=GENERATION_TIMEOUT)

    assert result.succeeded, result.error
    plain, competition, contrast = (read_png(comfy_server, result, node) for node in ("4", "6", "8"))
    assert plain.shape == competition.shape == contrast.shape == (HEIGHT, WIDTH, 3)
    assert not np.array_equal(plain, competition)
    assert not np.array_equal(competition, contrast)


def test_generation_from_photo_keeps_its_size(comfy_server: ComfyClient, example_inputs: ExampleInputs) -> None:
    prompt = generation_prompt(prompt="people having lunch", concept="person", anti_concept="table, background", image=["3", 0], noise_strength=0.5)
    prompt["3"] = {"class_type": "LoadImage", "inputs": {"image": example_inputs.photo_name}}
    save(prompt, "4", mask_to_image(prompt, "5", ["2", 1]), "pack/photo_contrast")
    save(prompt, "6", ["2", 0], "pack/photo_passthrough")

    result = comfy_server.run(prompt, timeout=GENERATION_TIMEOUT)

    assert result.succeeded, result.error
    height, width = example_inputs.person_mask.shape
    assert read_png(comfy_server, result, "4").shape == (height, width, 3)
    np.testing.assert_array_equal(read_png(comfy_server, result, "6"), example_inputs.photo.astype(np.float32))


def test_concept_equal_to_anti_concept_gives_zero_mask(comfy_server: ComfyClient) -> None:
    prompt = generation_prompt(concept="dragon", anti_concept="dragon", extra_concepts="")
    save(prompt, "3", mask_to_image(prompt, "4", ["2", 1]), "pack/zero_contrast")

    result = comfy_server.run(prompt, timeout=GENERATION_TIMEOUT)

    assert result.succeeded, result.error
    assert read_png(comfy_server, result, "3").max() == 0.0
    assert "constant" in comfy_server.log_text()


def test_photo_sharpen_and_overlay(comfy_server: ComfyClient, example_inputs: ExampleInputs) -> None:
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": example_inputs.photo_name}},
        "2": {"class_type": "LoadImageMask", "inputs": {"image": example_inputs.heatmap_name, "channel": "red"}},
        "3": {
            "class_type": "ContrastiveAttention_SpectralSharpen",
            "inputs": {"mask": ["2", 0], "exponent": 3.0, "mode": "spatial", "temperature": 0.1, "upsample": "bilinear"},
        },
        "4": {
            "class_type": "ContrastiveAttention_HeatmapOverlay",
            "inputs": {"image": ["1", 0], "mask": ["3", 0], "colormap": "jet", "alpha": 0.5},
        },
    }
    save(prompt, "5", ["4", 0], "pack/photo_overlay")
    save(prompt, "6", mask_to_image(prompt, "7", ["3", 0]), "pack/photo_sharpened")

    result = comfy_server.run(prompt, timeout=120)

    assert result.succeeded, result.error
    overlay = read_png(comfy_server, result, "5")
    sharpened = read_png(comfy_server, result, "6")[..., 0]
    height, width = example_inputs.person_mask.shape
    assert overlay.shape == (height, width, 3)
    assert sharpened.shape == (height, width)
    peak = np.unravel_index(np.argmax(sharpened), sharpened.shape)
    assert example_inputs.person_mask[peak]
    assert sharpened[example_inputs.person_mask].mean() > sharpened[~example_inputs.person_mask].mean()


def test_invalid_temperature_rejected_and_server_serves(comfy_server: ComfyClient, example_inputs: ExampleInputs) -> None:
    prompt = {
        "1": {"class_type": "LoadImageMask", "inputs": {"image": example_inputs.heatmap_name, "channel": "red"}},
        "2": {
            "class_type": "ContrastiveAttention_SpectralSharpen",
            "inputs": {"mask": ["1", 0], "exponent": 2.0, "mode": "spatial", "temperature": 0.0, "upsample": "bilinear"},
        },
    }
    save(prompt, "3", mask_to_image(prompt, "4", ["2", 0]), "pack/bad_temperature")

    with pytest.raises(PromptRejectedError) as rejected:
        comfy_server.queue(prompt)

    assert "2" in rejected.value.node_errors
    assert "temperature" in str(rejected.value.node_errors["2"])
    prompt["2"]["inputs"]["temperature"] = 0.2
    assert comfy_server.run(prompt, timeout=120).succeeded


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"concept": "   "}, "concept is empty"),
        ({"layers": "0-5"}, "layers must be within 0-1"),
        ({"anti_concept": " , "}, "anti_concept is empty"),
    ],
)
def test_bad_generation_input_reports_error(comfy_server: ComfyClient, overrides: dict, message: str) -> None:
    prompt = generation_prompt(**overrides)
    save(prompt, "3", ["2", 0], "pack/bad_input")

    result = comfy_server.run(prompt, timeout=GENERATION_TIMEOUT)

    assert not result.succeeded
    assert message in str(result.error)
    good = generation_prompt(steps=1)
    save(good, "3", ["2", 0], "pack/after_bad_input")
    assert comfy_server.run(good, timeout=GENERATION_TIMEOUT).succeeded


def test_interrupt_stops_generation_between_steps(comfy_server: ComfyClient) -> None:
    warm_up = generation_prompt(steps=1, seed=122)
    save(warm_up, "3", ["2", 0], "pack/warm_up")
    assert comfy_server.run(warm_up, timeout=GENERATION_TIMEOUT).succeeded  # the model is now loaded and cached
    prompt = generation_prompt(steps=40, seed=123)
    save(prompt, "3", ["2", 0], "pack/interrupted")

    prompt_id = comfy_server.queue(prompt)
    time.sleep(3.0)
    started = time.monotonic()
    comfy_server.interrupt()
    result = comfy_server.wait(prompt_id, timeout=GENERATION_TIMEOUT)
    stopped_after = time.monotonic() - started

    assert not result.succeeded
    assert result.interruption is not None
    assert stopped_after < 30.0  # one step, not the remaining 37 or so
    again = generation_prompt(steps=1, seed=124)
    save(again, "3", ["2", 0], "pack/after_interrupt")
    assert comfy_server.run(again, timeout=GENERATION_TIMEOUT).succeeded
