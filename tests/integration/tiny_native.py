"""Tiny random-weight stand-ins for ComfyUI's FLUX loaders, for the tests and the main job.

``write_tiny_models`` fills a ComfyUI models folder with a tiny FLUX.1 schnell, a tiny SD3 and a
random TAESD for FLUX latents (VAELoader's "taef1"). ``use_tiny_models`` points a prompt's stock
FLUX loaders at them, and at the test-only text encoder node of tests/native/fixture_pack, which
ComfyServerProcess links into every server it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .comfy_server import FIXTURE_PACK_DIR, SITECUSTOMIZE_DIR, TINY_FLUX_FILE, TINY_SD3_FILE

# Stock node -> (node that replaces it, inputs set on it). Inputs not listed keep the prompt's values.
TINY_MODEL_NODES = {
    "UNETLoader": ("UNETLoader", {"unet_name": TINY_FLUX_FILE}),
    "DualCLIPLoader": ("ContrastiveAttentionTest_TinyFluxClip", {"seed": 0}),
    "VAELoader": ("VAELoader", {"vae_name": "taef1"}),
    "EmptySD3LatentImage": ("EmptySD3LatentImage", {"width": 64, "height": 64}),
    "ContrastiveAttention_FluxSampler": ("ContrastiveAttention_FluxSampler", {"steps": 2, "layers": "all"}),
}


def uses_comfy_flux_loaders(prompt: dict) -> bool:
    """Return True when the prompt loads a diffusion model with ComfyUI's UNETLoader."""
    return any(node["class_type"] == "UNETLoader" for node in prompt.values())


def use_tiny_models(prompt: dict) -> dict:
    """Swap the stock FLUX loaders for the tiny models and shrink the sampling; returns the prompt."""
    for node in prompt.values():
        if node["class_type"] not in TINY_MODEL_NODES:
            continue
        class_type, inputs = TINY_MODEL_NODES[node["class_type"]]
        if class_type != node["class_type"]:
            node["inputs"] = {}
        node["class_type"] = class_type
        node["inputs"].update(inputs)
    return prompt


def write_tiny_models(models_dir: Path, comfyui_dir: Path) -> None:
    """Write the tiny models under ``models_dir`` unless they are there already."""
    if (models_dir / "diffusion_models" / TINY_FLUX_FILE).exists():
        return
    # Built in a child process from that ComfyUI's own classes, which this process may not import.
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        sys.path.insert(0, {str(comfyui_dir)!r})
        import comfy.cli_args
        comfy.cli_args.args.cpu = True
        spec = importlib.util.spec_from_file_location("tiny_models", {str(FIXTURE_PACK_DIR / "tiny_models.py")!r})
        tiny_models = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tiny_models)
        tiny_models.save_tiny_flux({str(models_dir / "diffusion_models" / TINY_FLUX_FILE)!r}, seed=0)
        tiny_models.save_tiny_non_flux({str(models_dir / "diffusion_models" / TINY_SD3_FILE)!r}, seed=0)
        tiny_models.save_tiny_taef1({str(models_dir / "vae_approx")!r}, seed=0)
        """
    )
    python_path = os.pathsep.join(filter(None, [str(SITECUSTOMIZE_DIR), os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=python_path)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(f"writing the tiny models failed:\n{completed.stderr}")
