"""Tests of the tiny random-weight models that the native FLUX backend tests run through ComfyUI."""

from types import ModuleType

import pytest
import torch

import comfy.ldm.flux.model
import comfy.model_patcher
import comfy.sample
import comfy.sd
import comfy.utils

PROMPT = "a red dragon"
# FluxTokenizer pads the T5 tokens of a short prompt to this many positions.
T5_MIN_LENGTH = 256
T5_END_TOKEN = 1
T5_PAD_TOKEN = 0
LATENT_SHAPE = (1, 16, 8, 8)
SAMPLE_STEPS = 4


def _encode(clip, text: str):
    # The calls that the stock CLIPTextEncode node makes, in ComfyUI 0.18.2 and 0.30.0.
    tokens = clip.tokenize(text)
    return clip.encode_from_tokens_scheduled(tokens)


def _sample(patcher, conditioning, noise_seed: int = 1) -> torch.Tensor:
    latent = torch.zeros(LATENT_SHAPE)
    noise = torch.randn(LATENT_SHAPE, generator=torch.Generator().manual_seed(noise_seed))
    return comfy.sample.sample(
        patcher,
        noise,
        SAMPLE_STEPS,
        1.0,
        "euler",
        "simple",
        conditioning,
        conditioning,
        latent,
        seed=noise_seed,
        disable_pbar=True,
    )


def _t5_real_token_count(t5_tokens: list[tuple[int, float, int]]) -> int:
    return sum(1 for _, _, word_id in t5_tokens if word_id != 0)


@pytest.fixture(scope="module")
def clip(tiny_models: ModuleType):
    return tiny_models.tiny_flux_clip(0)


@pytest.fixture(scope="module")
def conditioning(clip):
    return _encode(clip, PROMPT)


def test_flux_state_dict_deterministic(tiny_models: ModuleType):
    first = tiny_models.tiny_flux_state_dict(0)
    again = tiny_models.tiny_flux_state_dict(0)
    other = tiny_models.tiny_flux_state_dict(1)

    assert first.keys() == again.keys()
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not torch.equal(first["img_in.weight"], other["img_in.weight"])


def test_flux_state_dict_uses_checkpoint_layout(tiny_models: ModuleType):
    state_dict = tiny_models.tiny_flux_state_dict(0)

    assert "double_blocks.0.img_attn.norm.key_norm.scale" in state_dict
    assert not any(name.endswith("_norm.weight") for name in state_dict)
    assert state_dict["txt_in.weight"].shape == (tiny_models.FLUX_HIDDEN_SIZE, tiny_models.T5_WIDTH)
    assert state_dict["vector_in.in_layer.weight"].shape == (tiny_models.FLUX_HIDDEN_SIZE, tiny_models.CLIP_WIDTH)
    assert all(tensor.dtype == torch.float32 for tensor in state_dict.values())


def test_saved_flux_round_trips(tiny_models: ModuleType, tmp_path):
    path = tiny_models.save_tiny_flux(tmp_path / "diffusion_models" / "tiny_flux.safetensors", seed=3)
    expected = tiny_models.tiny_flux_state_dict(3)

    loaded = comfy.utils.load_torch_file(str(path), safe_load=True)

    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)


def test_saved_flux_loads_as_schnell(tiny_models: ModuleType, tmp_path):
    path = tiny_models.save_tiny_flux(tmp_path / "tiny_flux.safetensors")

    # The stock UNETLoader node loads a file through this function.
    patcher = comfy.sd.load_diffusion_model(str(path))

    assert isinstance(patcher, comfy.model_patcher.ModelPatcher)
    assert type(patcher.model.model_config).__name__ == "FluxSchnell"
    diffusion_model = patcher.model.diffusion_model
    assert type(diffusion_model) is comfy.ldm.flux.model.Flux
    assert len(diffusion_model.double_blocks) == tiny_models.FLUX_DEPTH == 2
    assert len(diffusion_model.single_blocks) == tiny_models.FLUX_SINGLE_DEPTH == 1
    assert diffusion_model.params.guidance_embed is False


def test_guidance_flux_loads_as_dev(tiny_models: ModuleType):
    patcher = tiny_models.load_tiny_flux(0, guidance=True)

    assert type(patcher.model.model_config).__name__ == "Flux"
    assert type(patcher.model.diffusion_model) is comfy.ldm.flux.model.Flux
    assert patcher.model.diffusion_model.params.guidance_embed is True


def test_load_leaves_caller_state_dict_intact(tiny_models: ModuleType):
    patcher = tiny_models.load_tiny_flux(0)
    expected = tiny_models.tiny_flux_state_dict(0)

    loaded = patcher.model.diffusion_model.state_dict()

    assert torch.equal(loaded["img_in.weight"], expected["img_in.weight"])
    assert torch.equal(
        loaded["double_blocks.1.txt_attn.norm.query_norm.weight"],
        expected["double_blocks.1.txt_attn.norm.query_norm.scale"],
    )


def test_flux_sampling_finite(tiny_models: ModuleType, conditioning):
    samples = _sample(tiny_models.load_tiny_flux(0), conditioning)

    assert samples.shape == LATENT_SHAPE
    assert torch.isfinite(samples).all()
    # Far from zero and far from overflow: the random blocks neither vanish nor explode.
    assert 0.1 < samples.std().item() < 100.0


def test_flux_sampling_depends_on_seed(tiny_models: ModuleType, conditioning):
    first = _sample(tiny_models.load_tiny_flux(0), conditioning)
    again = _sample(tiny_models.load_tiny_flux(0), conditioning)
    other = _sample(tiny_models.load_tiny_flux(1), conditioning)

    assert torch.equal(first, again)
    assert not torch.allclose(first, other, atol=1e-3)


def test_flux_sampling_depends_on_prompt(tiny_models: ModuleType, clip, conditioning):
    patcher = tiny_models.load_tiny_flux(0)

    dragon = _sample(patcher, conditioning)
    castle = _sample(patcher, _encode(clip, "a grey castle"))

    assert not torch.allclose(dragon, castle, atol=1e-3)


def test_guidance_flux_sampling_finite(tiny_models: ModuleType, conditioning):
    samples = _sample(tiny_models.load_tiny_flux(0, guidance=True), conditioning)

    assert torch.isfinite(samples).all()


def test_clip_is_comfy_clip(clip):
    assert isinstance(clip, comfy.sd.CLIP)


def test_clip_encode_shapes(tiny_models: ModuleType, conditioning):
    assert len(conditioning) == 1
    embedding, extra = conditioning[0]

    assert embedding.shape == (1, T5_MIN_LENGTH, tiny_models.T5_WIDTH)
    assert extra["pooled_output"].shape == (1, tiny_models.CLIP_WIDTH)
    assert torch.isfinite(embedding).all()
    assert torch.isfinite(extra["pooled_output"]).all()


def test_clip_deterministic_per_seed(tiny_models: ModuleType, conditioning):
    again = _encode(tiny_models.tiny_flux_clip(0), PROMPT)
    other = _encode(tiny_models.tiny_flux_clip(1), PROMPT)

    assert torch.equal(conditioning[0][0], again[0][0])
    assert not torch.allclose(conditioning[0][0], other[0][0], atol=1e-3)


def test_clip_encoding_depends_on_prompt(clip, conditioning):
    castle = _encode(clip, "a grey castle")

    assert not torch.allclose(conditioning[0][0], castle[0][0], atol=1e-3)
    assert not torch.allclose(conditioning[0][1]["pooled_output"], castle[0][1]["pooled_output"], atol=1e-3)


def test_t5_tokens_with_word_ids(clip):
    tokens = clip.tokenize(PROMPT, return_word_ids=True)
    t5_tokens = tokens["t5xxl"][0]
    real_count = _t5_real_token_count(t5_tokens)

    assert len(tokens["t5xxl"]) == 1
    assert len(t5_tokens) == T5_MIN_LENGTH
    assert all(len(entry) == 3 for entry in t5_tokens)
    assert real_count > 0
    # Real tokens come first with word ids from 1, then one EOS and padding, both with word id 0.
    assert all(word_id >= 1 for _, _, word_id in t5_tokens[:real_count])
    assert t5_tokens[real_count] == (T5_END_TOKEN, 1.0, 0)
    assert all(entry == (T5_PAD_TOKEN, 1.0, 0) for entry in t5_tokens[real_count + 1 :])


def test_cut_t5_tokens_encode_to_same_length(tiny_models: ModuleType, clip):
    tokens = clip.tokenize("dragon", return_word_ids=True)
    real_count = _t5_real_token_count(tokens["t5xxl"][0])
    tokens["t5xxl"] = [tokens["t5xxl"][0][: real_count + 1]]

    embedding, pooled = clip.encode_from_tokens(tokens, return_pooled=True)

    assert embedding.shape == (1, real_count + 1, tiny_models.T5_WIDTH)
    assert pooled.shape == (1, tiny_models.CLIP_WIDTH)
    assert torch.isfinite(embedding).all()


def test_non_flux_loads_as_sd3(tiny_models: ModuleType, tmp_path):
    path = tiny_models.save_tiny_non_flux(tmp_path / "tiny_sd3.safetensors")

    patcher = comfy.sd.load_diffusion_model(str(path))

    assert isinstance(patcher, comfy.model_patcher.ModelPatcher)
    assert type(patcher.model.model_config).__name__ == "SD3"
    assert not isinstance(patcher.model.diffusion_model, comfy.ldm.flux.model.Flux)


def test_non_flux_sampling_finite(tiny_models: ModuleType, conditioning):
    samples = _sample(tiny_models.load_tiny_non_flux(0), conditioning)

    assert samples.shape == LATENT_SHAPE
    assert torch.isfinite(samples).all()


def test_fixture_pack_node(fixture_pack: ModuleType):
    node_id = "ContrastiveAttentionTest_TinyFluxClip"
    node_class = fixture_pack.NODE_CLASS_MAPPINGS[node_id]
    seed_input = node_class.INPUT_TYPES()["required"]["seed"]

    assert fixture_pack.NODE_DISPLAY_NAME_MAPPINGS[node_id] == "Tiny FLUX Text Encoder (test)"
    assert node_class.RETURN_TYPES == ("CLIP",)
    assert seed_input[0] == "INT"
    assert seed_input[1]["default"] == 0

    (clip,) = getattr(node_class(), node_class.FUNCTION)(seed=0)

    assert isinstance(clip, comfy.sd.CLIP)
