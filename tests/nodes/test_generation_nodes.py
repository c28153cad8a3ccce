"""The loader and generation nodes called directly, on the random-weight FLUX."""

import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from contrastive_attention_pack.contrastive_core.mflux_backend import model_loading
from contrastive_attention_pack.contrastive_core.mflux_backend.random_model import build_random_flux
from contrastive_attention_pack.contrastive_core.mflux_backend.variants import TEST_MODEL_ENVIRONMENT_VARIABLE
from contrastive_attention_pack.nodes.contrastive_node import ContrastiveConceptAttention
from contrastive_attention_pack.nodes.loader_node import MfluxFluxLoader

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
COMFYUI_DIR = Path(importlib.util.find_spec("comfy_api").submodule_search_locations[0]).parent

WIDTH, HEIGHT = 48, 32  # a 3 x 2 patch grid


@pytest.fixture(scope="module")
def random_flux():
    return build_random_flux(joint_blocks=2, single_blocks=1, seed=1)


def generate(model, **overrides):
    inputs = dict(
        model=model, prompt="a dragon over a lake", concept="dragon", anti_concept="background",
        extra_concepts="lake", seed=3, width=WIDTH, height=HEIGHT, steps=2, guidance=3.5,
        layers="all", steps_to_average="all", temperature=0.1,
    )
    inputs.update(overrides)
    return ContrastiveConceptAttention.execute(**inputs).args


def test_generation_outputs_have_comfy_shapes(random_flux):
    image, contrast, plain, heatmap = generate(random_flux)

    assert image.shape == (1, HEIGHT, WIDTH, 3)
    assert contrast.shape == plain.shape == (1, HEIGHT, WIDTH)
    for tensor in (image, contrast, plain):
        assert tensor.dtype == torch.float32
        assert torch.isfinite(tensor).all()
        assert tensor.min() >= 0.0
        assert tensor.max() <= 1.0
    assert heatmap.concepts == ("dragon", "background", "lake")
    assert (heatmap.grid_height, heatmap.grid_width) == (HEIGHT // 16, WIDTH // 16)


def test_generation_same_concepts_gives_zero_contrast(random_flux, caplog):
    with caplog.at_level(logging.WARNING):
        _, contrast, plain, _ = generate(random_flux, anti_concept="dragon", extra_concepts="")

    assert torch.count_nonzero(contrast) == 0
    assert plain.max() == 1.0
    assert "constant" in caplog.text


def test_generation_single_patch_grid(random_flux):
    image, contrast, plain, heatmap = generate(random_flux, width=16, height=16, anti_concept="dragon")

    assert image.shape == (1, 16, 16, 3)
    assert (heatmap.grid_height, heatmap.grid_width) == (1, 1)
    assert torch.isfinite(contrast).all()
    assert torch.count_nonzero(contrast) == 0


def test_generation_rejects_layers_out_of_range(random_flux):
    with pytest.raises(ValueError, match="layers must be within 0-1"):
        generate(random_flux, layers="15-18")


def test_loader_hides_test_model_by_default(monkeypatch):
    monkeypatch.delenv(TEST_MODEL_ENVIRONMENT_VARIABLE, raising=False)

    options = MfluxFluxLoader.define_schema().inputs[0].options
    assert "random test model" not in options
    with pytest.raises(ValueError, match="model 'random test model' is not available"):
        MfluxFluxLoader.execute(model="random test model", local_path="", quantize="none", loras="")


def test_loader_missing_local_path(tmp_path):
    missing = tmp_path / "no-such-folder"

    with pytest.raises(ValueError, match="local_path .* is not a folder"):
        MfluxFluxLoader.execute(model="schnell", local_path=str(missing), quantize="none", loras="")


def test_loader_missing_lora(tmp_path):
    with pytest.raises(ValueError, match="LoRA file .* not found"):
        MfluxFluxLoader.execute(model="schnell", local_path="", quantize="4", loras=f"{tmp_path / 'x.safetensors'}:0.8")


def test_lora_lines_parsed():
    paths, scales = model_loading.parse_lora_lines("/a/style.safetensors:0.7\n\n C:/loras/b.safetensors \n")

    assert paths == ("/a/style.safetensors", "C:/loras/b.safetensors")
    assert scales == (0.7, 1.0)


def test_model_cache_reloads_only_on_change(monkeypatch):
    loaded = []
    monkeypatch.setenv(TEST_MODEL_ENVIRONMENT_VARIABLE, "1")
    monkeypatch.setattr(model_loading, "load_flux_model", lambda settings: loaded.append(settings) or object())
    cache = model_loading.ModelCache()
    schnell = model_loading.LoadSettings(variant="schnell")

    first = cache.get(schnell)
    again = cache.get(model_loading.LoadSettings(variant="schnell"))
    other = cache.get(model_loading.LoadSettings(variant="schnell", quantize=8))

    assert first is again
    assert other is not first
    assert len(loaded) == 2


def test_loader_without_cached_weights_explains():
    # Offline, huggingface_hub fails at once instead of retrying for half a minute.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.append({str(COMFYUI_DIR)!r})
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "pack", {str(REPOSITORY_ROOT / "__init__.py")!r}, submodule_search_locations=[{str(REPOSITORY_ROOT)!r}])
        pack = importlib.util.module_from_spec(spec); sys.modules["pack"] = pack; spec.loader.exec_module(pack)
        from pack.nodes.loader_node import MfluxFluxLoader
        try:
            MfluxFluxLoader.execute(model="dev", local_path="", quantize="none", loras="")
        except RuntimeError as error:
            print(error)
        """
    )
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=120)

    assert "Could not load FLUX.1-dev from the Hugging Face cache" in completed.stdout, completed.stderr
    assert "local_path" in completed.stdout


def test_pack_registers_nodes_without_mlx():
    # A meta-path hook makes mlx and mflux unimportable, as on Windows.
    script = textwrap.dedent(
        f"""
        import asyncio, importlib.abc, importlib.util, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("mlx", "mflux"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
                return None
        sys.path.append({str(COMFYUI_DIR)!r})
        # ComfyUI has loaded its own modules before it loads a pack; the sampler node lists its samplers.
        import comfy.cli_args
        comfy.cli_args.args.cpu = True
        import comfy.samplers
        sys.meta_path.insert(0, Block())
        spec = importlib.util.spec_from_file_location(
            "pack", {str(REPOSITORY_ROOT / "__init__.py")!r}, submodule_search_locations=[{str(REPOSITORY_ROOT)!r}])
        pack = importlib.util.module_from_spec(spec); sys.modules["pack"] = pack; spec.loader.exec_module(pack)
        extension = asyncio.run(pack.comfy_entrypoint())
        nodes = asyncio.run(extension.get_node_list())
        print(sorted(node.define_schema().node_id for node in nodes))
        import torch
        sharpen = next(node for node in nodes if node.__name__ == "SpectralSharpen")
        try:
            sharpen.execute(heatmap=None, mask=torch.zeros(1, 4, 4), exponent=2.0, mode="spatial", temperature=0.1, upsample="bilinear")
        except RuntimeError as error:
            print("ERROR:", error)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    assert "ContrastiveAttention_Generate" in completed.stdout
    assert "ContrastiveAttention_SpectralSharpen" in completed.stdout
    assert "ContrastiveAttention_MfluxLoader" in completed.stdout
    assert "ContrastiveAttention_FluxSampler" in completed.stdout
    assert "ERROR: Spectral Sharpen needs the Python package 'mlx'" in completed.stdout


def test_generation_from_image_keeps_input_size(random_flux):
    photo = torch.rand(1, 40, 56, 4)  # RGBA, not a multiple of 16

    image, contrast, plain, heatmap = generate(random_flux, image=photo, noise_strength=1.0, steps=2)

    assert image.shape == (1, 40, 56, 3)
    assert torch.equal(image, photo[..., :3])
    assert contrast.shape == plain.shape == (1, 40, 56)
    assert heatmap.steps == (0, 1)


def test_generation_from_image_batch_rejected(random_flux):
    with pytest.raises(ValueError, match="image has a batch of 2"):
        generate(random_flux, image=torch.rand(2, 32, 32, 3))
