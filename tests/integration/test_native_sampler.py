"""The native FLUX sampler node inside a real ComfyUI, with ComfyUI's own loaders and tiny random weights."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from .comfy_server import TINY_FLUX_FILE as FLUX_FILE
from .comfy_server import TINY_SD3_FILE as SD3_FILE
from .comfy_server import ComfyClient

pytestmark = pytest.mark.integration

WIDTH, HEIGHT, BATCH = 96, 64, 2  # a 6 x 4 patch grid per image
RUN_TIMEOUT = 300.0


def workflow(unet: str = FLUX_FILE, **sampler_overrides) -> dict:
    """KSampler and the contrastive sampler side by side on one latent, with the heatmap rendered three ways."""
    sampler_inputs = {
        "model": ["1", 0], "positive": ["3", 0], "negative": ["4", 0], "latent_image": ["5", 0],
        "seed": 5, "steps": 3, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0,
    }
    contrastive_inputs = {
        **sampler_inputs, "clip": ["2", 0], "concept": "dragon", "anti_concept": "background",
        "extra_concepts": "lake", "layers": "all", "steps_to_average": "all", **sampler_overrides,
    }
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
        "2": {"class_type": "ContrastiveAttentionTest_TinyFluxClip", "inputs": {"seed": 0}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a dragon over a lake", "clip": ["2", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}},
        "5": {"class_type": "EmptySD3LatentImage", "inputs": {"width": WIDTH, "height": HEIGHT, "batch_size": BATCH}},
        "6": {"class_type": "KSampler", "inputs": sampler_inputs},
        "7": {"class_type": "ContrastiveAttention_FluxSampler", "inputs": contrastive_inputs},
        "8": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "native/ksampler"}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "native/contrastive"}},
        "10": {"class_type": "ContrastiveAttention_HeatmapToMask", "inputs": {"heatmap": ["7", 1], "rendering": "contrast", "temperature": 0.1, "upsample": "bilinear"}},
        "11": {"class_type": "MaskToImage", "inputs": {"mask": ["10", 0]}},
        "12": {"class_type": "SaveImage", "inputs": {"images": ["11", 0], "filename_prefix": "native/contrast"}},
        "13": {"class_type": "ContrastiveAttention_SpectralSharpen", "inputs": {"heatmap": ["7", 1], "exponent": 2.0, "mode": "consensus", "temperature": 0.1, "upsample": "bilinear"}},
        "14": {"class_type": "MaskToImage", "inputs": {"mask": ["13", 0]}},
        "15": {"class_type": "SaveImage", "inputs": {"images": ["14", 0], "filename_prefix": "native/sharpened"}},
        "16": {"class_type": "EmptyImage", "inputs": {"width": WIDTH, "height": HEIGHT, "batch_size": 1, "color": 0x808080}},
        "17": {"class_type": "ContrastiveAttention_HeatmapOverlay", "inputs": {"image": ["16", 0], "heatmap": ["7", 1], "colormap": "jet", "alpha": 0.5}},
        "18": {"class_type": "SaveImage", "inputs": {"images": ["17", 0], "filename_prefix": "native/overlay"}},
    }  # fmt: skip


def _latent(comfy_server: ComfyClient, result, node_id: str):
    (saved,) = result.outputs[node_id]["latents"]
    path = comfy_server.output_dir / saved["subfolder"] / saved["filename"]
    return load_file(str(path))["latent_tensor"]


def test_latent_identical_and_heatmaps_render(comfy_server: ComfyClient, tiny_model_files: Path) -> None:
    result = comfy_server.run(workflow(), timeout=RUN_TIMEOUT)

    assert result.succeeded, result.error
    plain, contrastive = _latent(comfy_server, result, "8"), _latent(comfy_server, result, "9")
    assert plain.shape == (BATCH, 16, HEIGHT // 8, WIDTH // 8)
    assert (plain == contrastive).all()
    for node_id in ("12", "15", "18"):
        paths = comfy_server.image_paths(result, node_id)
        assert len(paths) == BATCH, node_id  # one heatmap per image of the batch
        pictures = [np.asarray(Image.open(path).convert("RGB"), dtype=np.int16) for path in paths]
        assert all(picture.shape == (HEIGHT, WIDTH, 3) for picture in pictures), node_id
        assert all(picture.std() > 1 for picture in pictures), node_id  # not blank
        assert np.abs(pictures[0] - pictures[1]).max() > 0, node_id  # two noises, two heatmaps


@pytest.mark.parametrize(
    ("unet", "overrides", "message"),
    [
        (SD3_FILE, {}, "supports FLUX.1 models"),
        (FLUX_FILE, {"layers": "5"}, "layers must be within 0-1"),
        (FLUX_FILE, {"concept": "  "}, "concept is empty"),
    ],
    ids=["non-flux-model", "layers-out-of-range", "empty-concept"],
)
def test_bad_input_reports_error(comfy_server: ComfyClient, tiny_model_files: Path, unet: str, overrides: dict, message: str) -> None:
    result = comfy_server.run(workflow(unet, **overrides), timeout=RUN_TIMEOUT)

    assert not result.succeeded
    assert message in str(result.error)
    assert comfy_server.run(workflow(seed=6), timeout=RUN_TIMEOUT).succeeded  # the next prompt still runs


def test_interrupt_stops_sampling(comfy_server: ComfyClient, tiny_model_files: Path) -> None:
    assert comfy_server.run(workflow(seed=7), timeout=RUN_TIMEOUT).succeeded  # models loaded
    long_run = workflow(seed=8, steps=2000)  # about a minute on a 2-core CPU

    prompt_id = comfy_server.queue(long_run)
    time.sleep(3.0)
    started = time.monotonic()
    comfy_server.interrupt()
    result = comfy_server.wait(prompt_id, timeout=RUN_TIMEOUT)
    stopped_after = time.monotonic() - started

    assert not result.succeeded
    assert result.interruption is not None
    assert stopped_after < 20.0
    assert comfy_server.run(workflow(seed=9), timeout=RUN_TIMEOUT).succeeded
