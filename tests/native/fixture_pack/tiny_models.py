"""Tiny random-weight models built from ComfyUI's own classes, for tests that run the real sampler.

Nothing here downloads weights. Every tensor comes from a ``torch.Generator`` seeded with the
``seed`` argument, so the same seed gives the same weights on every run. The models only need to
keep activations finite and make outputs depend on inputs; they produce noise, not images.

Import this module only where ComfyUI's ``comfy`` package is importable. In-process callers must
also choose the device first (``comfy.cli_args.args.cpu = True``) because ``comfy.model_management``
picks it when first imported.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

# Widths of the tiny text encoders. The tiny FLUX reads its text inputs at these widths:
# context_in_dim is the T5 width and vec_in_dim the pooled CLIP-L width.
T5_WIDTH = 64
CLIP_WIDTH = 32

# FLUX.1 layout with 2 double blocks and 1 single block. ComfyUI's detection derives the number
# of heads as hidden_size // sum(axes_dim), so hidden size 128 with the stock axes gives 1 head.
FLUX_HIDDEN_SIZE = 128
FLUX_AXES_DIM = (16, 56, 56)
FLUX_DEPTH = 2
FLUX_SINGLE_DEPTH = 1
FLUX_LATENT_CHANNELS = 16
FLUX_PATCH_SIZE = 2
FLUX_MLP_RATIO = 4.0
FLUX_ROPE_THETA = 10000

# The non-FLUX model is an SD3-style MMDiT. ComfyUI's detection sets its hidden size to
# 64 * depth and its head count to depth. Its positional embedding table covers a grid of
# SD3_POS_EMBED_MAX_SIZE x SD3_POS_EMBED_MAX_SIZE patches, so latents up to 32x32.
SD3_DEPTH = 2
SD3_POS_EMBED_MAX_SIZE = 16

# Overrides of ComfyUI's T5-XXL and CLIP-L configs. The vocabularies stay full size so that every
# id the real tokenizers emit has an embedding row, and CLIP-L keeps its 77 positions.
T5_CONFIG = {"d_model": T5_WIDTH, "d_ff": 2 * T5_WIDTH, "d_kv": 16, "num_heads": 4, "num_layers": 2}
CLIP_L_CONFIG = {
    "hidden_size": CLIP_WIDTH,
    "intermediate_size": 4 * CLIP_WIDTH,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "projection_dim": CLIP_WIDTH,
}

NORM_SCALE_SUFFIXES = ("_norm.scale", "_norm.weight")
RELATIVE_ATTENTION_BIAS_STD = 0.1
BIAS_STD = 0.02
POSITION_EMBEDDING_STD = 0.02


def _flux_params(guidance: bool) -> dict[str, object]:
    return {
        "in_channels": FLUX_LATENT_CHANNELS,
        "out_channels": FLUX_LATENT_CHANNELS,
        "vec_in_dim": CLIP_WIDTH,
        "context_in_dim": T5_WIDTH,
        "hidden_size": FLUX_HIDDEN_SIZE,
        "mlp_ratio": FLUX_MLP_RATIO,
        "num_heads": FLUX_HIDDEN_SIZE // sum(FLUX_AXES_DIM),
        "depth": FLUX_DEPTH,
        "depth_single_blocks": FLUX_SINGLE_DEPTH,
        "axes_dim": list(FLUX_AXES_DIM),
        "theta": FLUX_ROPE_THETA,
        "patch_size": FLUX_PATCH_SIZE,
        "qkv_bias": True,
        "guidance_embed": guidance,
        "txt_ids_dims": [],
    }


def _random_tensor(name: str, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Draw one weight: unit norm scales, small biases, and matrices scaled by 1/sqrt(fan_in)."""
    if name.endswith(NORM_SCALE_SUFFIXES) or (len(shape) == 1 and "norm" in name and name.endswith("weight")):
        return torch.ones(shape)
    if len(shape) == 1:
        return torch.randn(shape, generator=generator) * BIAS_STD
    if "relative_attention_bias" in name:
        return torch.randn(shape, generator=generator) * RELATIVE_ATTENTION_BIAS_STD
    if "position_embedding" in name or name.endswith("pos_embed"):
        return torch.randn(shape, generator=generator) * POSITION_EMBEDDING_STD
    if name.endswith(("shared.weight", "token_embedding.weight")):
        # Embedding tables [vocab, width]: unit-variance rows, as a normalising layer follows.
        return torch.randn(shape, generator=generator)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=generator) / math.sqrt(fan_in)


def _random_state_dict(template: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Fill every entry of ``template`` (shapes only, may be on the meta device) in key order."""
    generator = torch.Generator().manual_seed(seed)
    return {name: _random_tensor(name, tensor.shape, generator) for name, tensor in template.items()}


def tiny_flux_state_dict(seed: int = 0, guidance: bool = False) -> dict[str, torch.Tensor]:
    """Return float32 weights in the FLUX.1 checkpoint layout (RMSNorm scales named ``*_norm.scale``).

    Without guidance ComfyUI detects the weights as FLUX.1 schnell (``FluxSchnell``); with
    guidance they contain ``guidance_in`` and are detected as FLUX.1 dev (``Flux``).
    """
    import comfy.ldm.flux.model
    import comfy.ops

    template = comfy.ldm.flux.model.Flux(
        image_model="flux", device="meta", operations=comfy.ops.disable_weight_init, **_flux_params(guidance)
    ).state_dict()
    # ComfyUI's module names its RMSNorm weights "weight", while FLUX.1 checkpoints use "scale".
    # The loader renames them back when it loads the file.
    template = {_checkpoint_key(name): tensor for name, tensor in template.items()}
    return _random_state_dict(template, seed)


def _checkpoint_key(name: str) -> str:
    if name.endswith("_norm.weight"):
        return name[: -len(".weight")] + ".scale"
    return name


def save_tiny_flux(path: str | os.PathLike[str], seed: int = 0, guidance: bool = False) -> Path:
    """Write ``tiny_flux_state_dict(seed, guidance)`` to ``path`` as safetensors and return the path."""
    return _save(tiny_flux_state_dict(seed, guidance), path)


def load_tiny_flux(seed: int = 0, guidance: bool = False):
    """Load the tiny FLUX through ComfyUI's detection and return its ``comfy.model_patcher.ModelPatcher``."""
    return _load_diffusion_model(tiny_flux_state_dict(seed, guidance), "FLUX")


def tiny_non_flux_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Return float32 weights of a tiny SD3-style MMDiT, which ComfyUI detects as ``SD3``, not FLUX.

    The MMDiT also runs ``("dit", "double_block", i)`` patches, so code that must accept only
    FLUX cannot tell the two apart by patch support alone. The text inputs match the tiny text
    encoder: context width T5_WIDTH and pooled width CLIP_WIDTH.
    """
    import comfy.ldm.modules.diffusionmodules.mmdit as mmdit
    import comfy.ops

    num_patches = SD3_POS_EMBED_MAX_SIZE * SD3_POS_EMBED_MAX_SIZE
    template = mmdit.MMDiT(
        input_size=None,
        patch_size=FLUX_PATCH_SIZE,
        in_channels=FLUX_LATENT_CHANNELS,
        out_channels=FLUX_LATENT_CHANNELS,
        depth=SD3_DEPTH,
        adm_in_channels=CLIP_WIDTH,
        context_embedder_config={
            "target": "torch.nn.Linear",
            "params": {"in_features": T5_WIDTH, "out_features": 64 * SD3_DEPTH},
        },
        pos_embed_max_size=SD3_POS_EMBED_MAX_SIZE,
        num_patches=num_patches,
        device="meta",
        operations=comfy.ops.disable_weight_init,
    ).state_dict()
    return _random_state_dict(template, seed)


def save_tiny_non_flux(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write ``tiny_non_flux_state_dict(seed)`` to ``path`` as safetensors and return the path."""
    return _save(tiny_non_flux_state_dict(seed), path)


def load_tiny_non_flux(seed: int = 0):
    """Load the tiny SD3-style model through ComfyUI's detection and return its ModelPatcher."""
    return _load_diffusion_model(tiny_non_flux_state_dict(seed), "SD3")


def save_tiny_taef1(folder: str | os.PathLike[str], seed: int = 0) -> tuple[Path, Path]:
    """Write random TAESD weights for FLUX latents as ``taef1_encoder`` and ``taef1_decoder`` in ``folder``.

    ComfyUI's stock VAELoader offers "taef1" when both files are in ``models/vae_approx``, so a
    workflow can decode the tiny FLUX's latents without a full-size VAE.
    """
    import comfy.taesd.taesd

    template = comfy.taesd.taesd.TAESD(latent_channels=FLUX_LATENT_CHANNELS)
    weights = _random_state_dict(template.state_dict(), seed)
    folder = Path(folder)
    paths = []
    for part in ("encoder", "decoder"):
        prefix = f"taesd_{part}."
        part_weights = {name[len(prefix) :]: value for name, value in weights.items() if name.startswith(prefix)}
        paths.append(_save(part_weights, folder / f"taef1_{part}.safetensors"))
    return paths[0], paths[1]


def _save(state_dict: dict[str, torch.Tensor], path: str | os.PathLike[str]) -> Path:
    import safetensors.torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({name: tensor.contiguous() for name, tensor in state_dict.items()}, str(path))
    return path


def _load_diffusion_model(state_dict: dict[str, torch.Tensor], expected: str):
    import comfy.sd

    # load_diffusion_model_state_dict pops entries from the dict it is given.
    patcher = comfy.sd.load_diffusion_model_state_dict(dict(state_dict))
    if patcher is None:
        raise RuntimeError(f"ComfyUI did not detect the tiny {expected} state dict as any known model")
    return patcher


class _FluxClipTarget:
    """What ``comfy.sd.CLIP`` builds from: the text model class, its arguments and the tokenizer class."""

    def __init__(self) -> None:
        import comfy.text_encoders.flux

        self.params: dict[str, object] = {}
        self.clip = comfy.text_encoders.flux.flux_clip()
        self.tokenizer = comfy.text_encoders.flux.FluxTokenizer


def tiny_flux_clip(seed: int = 0):
    """Build a ``comfy.sd.CLIP`` for FLUX.1 from the real FLUX tokenizer and tiny random T5 and CLIP-L.

    ``encode_from_tokens`` returns conditioning [1, T, T5_WIDTH], where T is the number of T5
    tokens (256 after the tokenizer's padding), and a pooled output [1, CLIP_WIDTH].
    """
    import comfy.sd

    # ComfyUI reads "<model_name>_model_config" from the model options and lays it over the
    # stock JSON config of the text encoder with that name.
    model_options = {"t5xxl_model_config": dict(T5_CONFIG), "clip_l_model_config": dict(CLIP_L_CONFIG)}
    clip = comfy.sd.CLIP(_FluxClipTarget(), model_options=model_options)

    text_model = clip.cond_stage_model
    weights = _random_state_dict(text_model.state_dict(), seed)
    # SDClipModel keeps a logit scale next to each text model. Its stock value is kept.
    weights = {name: value for name, value in weights.items() if not name.endswith("logit_scale")}
    missing, unexpected = text_model.load_state_dict(weights, strict=False)
    missing = [name for name in missing if not name.endswith("logit_scale")]
    if missing or unexpected:
        raise RuntimeError(f"tiny FLUX text encoder weights do not fit: missing {missing}, unexpected {unexpected}")
    return clip
