"""The native backend on ComfyUI's own FLUX.1 classes, in-process, with tiny random weights."""

import copy

import numpy as np
import pytest
import torch
from flux_reference import reference_scores

from contrastive_attention_pack.contrastive_core.heatmap import ConceptHeatmap
from contrastive_attention_pack.native_backend.capture import ConceptCapture, step_of
from contrastive_attention_pack.native_backend.concept_text import EncodedConcepts, encode_concepts
from contrastive_attention_pack.native_backend.flux_check import flux_transformer
from contrastive_attention_pack.nodes.heatmap_mask_node import HeatmapToMask
from contrastive_attention_pack.nodes.native_sampler_node import ContrastiveConceptSampler
from contrastive_attention_pack.nodes.overlay_node import HeatmapOverlay
from contrastive_attention_pack.nodes.sharpen_node import SpectralSharpen

SCHEDULE = torch.tensor([1.0, 0.7, 0.3, 0.0])


def _random_norm_scales(state_dict: dict, seed: int) -> dict:
    """Give the RMSNorm scales random values, so that the reference checks where they are applied."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: (0.5 + torch.rand(value.shape, generator=generator)) if name.endswith("_norm.scale") else value
        for name, value in state_dict.items()
    }


def _load(tiny_models, state_dict: dict):
    import comfy.sd

    return comfy.sd.load_diffusion_model_state_dict(dict(state_dict))


def _conditioning(tiny_clip, text: str, guidance: float | None = None):
    tokens = tiny_clip.tokenize(text)
    conditioning = tiny_clip.encode_from_tokens_scheduled(tokens)
    if guidance is not None:
        conditioning = [[cond, {**extra, "guidance": guidance}] for cond, extra in conditioning]
    return conditioning


@pytest.fixture(scope="module")
def tiny_clip(tiny_models):
    return tiny_models.tiny_flux_clip(seed=0)


@pytest.fixture(scope="module")
def tiny_flux(tiny_models):
    return tiny_models.load_tiny_flux(seed=0)


def _direct_call(model, capture: ConceptCapture, inputs: dict, chunks: list[int], sigma: float = 0.7):
    """Call the transformer once with the capture's hooks, as the sampler would at sigma."""
    patched = capture.patch(model)
    options = copy.copy(patched.model_options["transformer_options"])
    options["wrappers"] = patched.wrappers
    options["sigmas"] = torch.full((inputs["x"].shape[0],), sigma)
    options["sample_sigmas"] = SCHEDULE
    options["cond_or_uncond"] = chunks
    timestep = torch.full((inputs["x"].shape[0],), sigma)
    transformer = model.model.diffusion_model
    with torch.no_grad():
        hooked = transformer(inputs["x"], timestep, inputs["context"], inputs["y"], inputs.get("guidance"), transformer_options=options)
        plain = transformer(inputs["x"], timestep, inputs["context"], inputs["y"], inputs.get("guidance"), transformer_options={})
    return hooked, plain


@pytest.mark.parametrize("guidance", [False, True], ids=["schnell", "dev"])
def test_scores_match_reference(tiny_models, guidance):
    state_dict = _random_norm_scales(tiny_models.tiny_flux_state_dict(seed=5, guidance=guidance), seed=6)
    model = _load(tiny_models, state_dict)
    generator = torch.Generator().manual_seed(7)
    inputs = {
        "x": torch.randn(2, 16, 6, 8, generator=generator),
        "context": torch.randn(2, 9, tiny_models.T5_WIDTH, generator=generator),
        "y": torch.randn(2, tiny_models.CLIP_WIDTH, generator=generator),
    }
    if guidance:
        inputs["guidance"] = torch.tensor([3.5, 3.5])
    concepts = EncodedConcepts(torch.randn(1, 6, tiny_models.T5_WIDTH, generator=generator), ((0, 1), (1, 4), (4, 6)))
    capture = ConceptCapture(model.model.diffusion_model, concepts, layers=(0, 1), steps=(1,), latent_size=(6, 8), batch_size=1)

    hooked, plain = _direct_call(model, capture, inputs, chunks=[1, 0])  # the second row is the conditional one

    assert torch.equal(hooked, plain)
    captured = capture.layer_step_scores()  # [1, 2 layers, 3 concepts, 12 patches]
    expected = reference_scores(
        state_dict, inputs["x"][1:], 0.7, inputs["context"][1:], inputs["y"][1:], concepts.embeddings,
        concepts.spans, layers=(0, 1), guidance=3.5 if guidance else None,
    )
    assert captured.shape == (1, 2, 3, 12)
    torch.testing.assert_close(captured[0].double(), expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    # The unconditional row gives other scores, so the row choice is checked too.
    other_row = reference_scores(
        state_dict, inputs["x"][:1], 0.7, inputs["context"][:1], inputs["y"][:1], concepts.embeddings,
        concepts.spans, layers=(0, 1), guidance=3.5 if guidance else None,
    )
    assert (captured[0].double() - other_row).abs().max() > 1e-2


def test_skips_unscheduled_uncond_calls(tiny_flux, tiny_models):
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "x": torch.randn(1, 16, 4, 4, generator=generator),
        "context": torch.randn(1, 5, tiny_models.T5_WIDTH, generator=generator),
        "y": torch.randn(1, tiny_models.CLIP_WIDTH, generator=generator),
    }
    concepts = EncodedConcepts(torch.randn(1, 2, tiny_models.T5_WIDTH, generator=generator), ((0, 1), (1, 2)))
    capture = ConceptCapture(tiny_flux.model.diffusion_model, concepts, (0,), (1,), (4, 4), 1)

    _direct_call(tiny_flux, capture, inputs, chunks=[1])  # unconditional only
    _direct_call(tiny_flux, capture, inputs, chunks=[0], sigma=0.8)  # in step 0's interval, not selected
    _direct_call(tiny_flux, capture, inputs, chunks=[0], sigma=1.5)  # above the schedule

    with pytest.raises(RuntimeError, match=r"no scores were captured at steps \[1\]"):
        capture.layer_step_scores()


def test_step_of_schedule():
    def step(sigma: float) -> int | None:
        return step_of({"sigmas": torch.tensor([sigma]), "sample_sigmas": SCHEDULE})

    assert step(1.0) == 0
    assert step(0.9999) == 0  # SDE samplers on flow models start just below the first sigma
    assert step(0.7) == 1  # heun's second evaluation of step 0 counts toward step 1
    assert step(0.5) == 1  # a midpoint, as dpm_2 evaluates
    assert step(0.3) == 2
    assert step(0.01) == 2
    assert step(0.0) is None  # the end of the schedule, not a step
    assert step(1.01) is None
    assert step_of({}) is None


def test_concepts_keep_real_tokens(tiny_clip):
    encoded = encode_concepts(tiny_clip, ("a red dragon", "sky"), width=64)
    tokens = tiny_clip.tokenize("a red dragon", return_word_ids=True)["t5xxl"][0]
    real = sum(1 for token in tokens if token[2] > 0)

    assert encoded.spans[0] == (0, real)
    assert encoded.spans[1][0] == real
    assert encoded.spans[1][1] > real
    assert encoded.embeddings.shape == (1, encoded.spans[1][1], 64)
    # Each concept is encoded alone: the first concept's rows do not change with the second concept.
    alone = encode_concepts(tiny_clip, ("a red dragon",), width=64)
    torch.testing.assert_close(encoded.embeddings[:, :real], alone.embeddings)
    # A longer word is its own token sequence, not its first token.
    skyscraper = encode_concepts(tiny_clip, ("skyscraper",), width=64).embeddings
    sky = encode_concepts(tiny_clip, ("sky",), width=64).embeddings
    assert skyscraper.shape != sky.shape or not torch.allclose(skyscraper, sky)


def test_concept_input_errors(tiny_clip):
    with pytest.raises(ValueError, match="clip encodes text 64 wide, but the model expects 4096"):
        encode_concepts(tiny_clip, ("dragon",), width=4096)
    with pytest.raises(ValueError, match="has no text tokens"):
        encode_concepts(tiny_clip, ("( )",), width=64)  # only prompt-weight brackets
    with pytest.raises(ValueError, match="clip is missing"):
        encode_concepts(None, ("dragon",), width=64)


def _sample_node(model, clip, latent, **overrides):
    inputs = dict(
        model=model, clip=clip, positive=_conditioning(clip, "a dragon over a lake"),
        negative=_conditioning(clip, ""), latent_image=latent, seed=11, steps=3, cfg=1.0,
        sampler_name="euler", scheduler="simple", denoise=1.0, concept="dragon", anti_concept="background",
        extra_concepts="lake", layers="all", steps_to_average="all",
    )
    inputs.update(overrides)
    return ContrastiveConceptSampler.execute(**inputs).args


def _ksampler(model, clip, latent, seed=11, steps=3, cfg=1.0, sampler="euler"):
    import comfy.sample

    samples = latent["samples"]
    noise = comfy.sample.prepare_noise(samples, seed)
    return comfy.sample.sample(
        model, noise, steps, cfg, sampler, "simple", _conditioning(clip, "a dragon over a lake"),
        _conditioning(clip, ""), samples, seed=seed, disable_pbar=True,
    )


@pytest.mark.parametrize("cfg", [1.0, 3.0], ids=["cfg1", "cfg3"])
def test_node_latent_identical_per_image(tiny_flux, tiny_clip, cfg):
    latent = {"samples": torch.zeros(2, 16, 8, 12)}

    out, heatmap = _sample_node(tiny_flux, tiny_clip, latent, cfg=cfg)

    assert torch.equal(out["samples"], _ksampler(tiny_flux, tiny_clip, latent, cfg=cfg))
    assert isinstance(heatmap, tuple) and len(heatmap) == 2
    for item in heatmap:
        assert isinstance(item, ConceptHeatmap)
        assert item.concepts == ("dragon", "background", "lake")
        assert (item.grid_height, item.grid_width) == (4, 6)
        assert (item.image_height, item.image_width) == (64, 96)
        assert item.layer_step_scores.shape == (2 * 3, 3, 24)  # 2 layers x 3 steps
    first, second = (np.array(item.layer_step_scores) for item in heatmap)
    assert np.isfinite(first).all()
    assert not np.allclose(first, second)  # two noises, two heatmaps


def test_heatmap_batch_renders(tiny_flux, tiny_clip):
    _, heatmap = _sample_node(tiny_flux, tiny_clip, {"samples": torch.zeros(2, 16, 8, 12)}, steps=2)

    (mask,) = HeatmapToMask.execute(heatmap=heatmap, rendering="contrast", temperature=0.1, upsample="bilinear").args
    sharpened, passed_on = SpectralSharpen.execute(heatmap=heatmap, exponent=2.0, mode="consensus").args
    (overlay,) = HeatmapOverlay.execute(image=torch.rand(2, 64, 96, 3), heatmap=heatmap).args

    assert mask.shape == sharpened.shape == (2, 64, 96)
    assert passed_on is heatmap
    assert overlay.shape == (2, 64, 96, 3)
    assert not torch.equal(mask[0], mask[1])
    for values in (mask, sharpened, overlay):
        assert torch.isfinite(values).all()
        assert values.min() >= 0
        assert values.max() <= 1


def test_denoise_keeps_step_count(tiny_flux, tiny_clip):
    latent = {"samples": torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(2))}

    out, heatmap = _sample_node(tiny_flux, tiny_clip, latent, steps=4, denoise=0.5, steps_to_average="last 2")

    assert isinstance(heatmap, ConceptHeatmap)
    assert heatmap.steps == (2, 3)
    assert out["samples"].shape == (1, 16, 8, 8)


def test_non_flux_model_rejected(tiny_models, tiny_clip):
    model = tiny_models.load_tiny_non_flux(seed=0)

    with pytest.raises(ValueError, match=r"is not a FLUX\.1 model but SD3 .*supports FLUX\.1 models"):
        _sample_node(model, tiny_clip, {"samples": torch.zeros(1, 16, 8, 8)})
    with pytest.raises(ValueError, match="not a ComfyUI MODEL"):
        flux_transformer(object())


def test_selection_errors(tiny_flux, tiny_clip):
    latent = {"samples": torch.zeros(1, 16, 8, 8)}
    with pytest.raises(ValueError, match=r"layers must be within 0-1 \(there are 2 double blocks"):
        _sample_node(tiny_flux, tiny_clip, latent, layers="15-18")
    with pytest.raises(ValueError, match=r"steps_to_average must be within 0-2"):
        _sample_node(tiny_flux, tiny_clip, latent, steps_to_average="3")
    with pytest.raises(ValueError, match="latent_image must be an image LATENT"):
        _sample_node(tiny_flux, tiny_clip, {"samples": torch.zeros(16, 8, 8)})
    with pytest.raises(ValueError, match="anti_concept is empty"):
        _sample_node(tiny_flux, tiny_clip, latent, anti_concept=" , ")


def test_heun_evaluations_averaged(tiny_flux, tiny_clip):
    # Heun evaluates the model twice per step; the second evaluation of step i sits at step i+1's sigma.
    latent = {"samples": torch.zeros(1, 16, 8, 8)}

    out, heatmap = _sample_node(tiny_flux, tiny_clip, latent, sampler_name="heun", steps=3)

    assert torch.equal(out["samples"], _ksampler(tiny_flux, tiny_clip, latent, sampler="heun"))
    assert np.isfinite(np.array(heatmap.layer_step_scores)).all()


@pytest.mark.parametrize("weight_dtype", [torch.bfloat16, torch.float8_e4m3fn], ids=["bf16", "fp8"])
def test_low_precision_weights(tiny_models, tiny_clip, weight_dtype):
    # GPUs run FLUX in bf16, or with fp8 weights cast per layer; the capture must follow either.
    import comfy.sd

    state_dict = tiny_models.tiny_flux_state_dict(seed=0)
    model = comfy.sd.load_diffusion_model_state_dict(dict(state_dict), model_options={"dtype": weight_dtype})
    reference = tiny_models.load_tiny_flux(seed=0)
    latent = {"samples": torch.zeros(1, 16, 8, 8)}
    assert model.model.diffusion_model.double_blocks[0].txt_attn.qkv.weight.dtype == weight_dtype

    out, heatmap = _sample_node(model, tiny_clip, latent)
    _, full_precision = _sample_node(reference, tiny_clip, latent)

    assert torch.equal(out["samples"], _ksampler(model, tiny_clip, latent))
    low, full = np.array(heatmap.layer_step_scores), np.array(full_precision.layer_step_scores)
    assert np.isfinite(low).all()
    assert np.corrcoef(low.ravel(), full.ravel())[0, 1] > 0.9


def test_kontext_reference_tokens_left_out(tiny_flux, tiny_clip):
    # Kontext appends the reference image's tokens after the generated image's; only the latter are scored.
    reference = torch.randn(1, 16, 12, 8, generator=torch.Generator().manual_seed(4))
    positive = [[cond, {**extra, "reference_latents": [reference]}] for cond, extra in _conditioning(tiny_clip, "a dragon over a lake")]
    latent = {"samples": torch.zeros(1, 16, 8, 12)}

    out, heatmap = _sample_node(tiny_flux, tiny_clip, latent, positive=positive)
    _, without_reference = _sample_node(tiny_flux, tiny_clip, latent)

    import comfy.sample

    noise = comfy.sample.prepare_noise(latent["samples"], 11)
    expected = comfy.sample.sample(
        tiny_flux, noise, 3, 1.0, "euler", "simple", positive, _conditioning(tiny_clip, ""), latent["samples"], seed=11, disable_pbar=True
    )
    assert torch.equal(out["samples"], expected)
    assert (heatmap.grid_height, heatmap.grid_width) == (4, 6)
    assert heatmap.layer_step_scores.shape == (2 * 3, 3, 24)
    scores, plain_scores = np.array(heatmap.layer_step_scores), np.array(without_reference.layer_step_scores)
    assert np.isfinite(scores).all()
    assert not np.allclose(scores, plain_scores)  # the reference image changes what the image attends to


@pytest.mark.parametrize("sampler", ["dpmpp_2m_sde", "dpm_2"])
def test_samplers_off_schedule_sigmas(tiny_flux, tiny_clip, sampler):
    # dpmpp_2m_sde starts just below the first sigma; dpm_2 also evaluates at midpoints.
    latent = {"samples": torch.zeros(1, 16, 8, 8)}

    out, heatmap = _sample_node(tiny_flux, tiny_clip, latent, sampler_name=sampler, steps=4)

    assert torch.equal(out["samples"], _ksampler(tiny_flux, tiny_clip, latent, steps=4, sampler=sampler))
    assert heatmap.steps == (0, 1, 2, 3)
    assert np.isfinite(np.array(heatmap.layer_step_scores)).all()


def test_denoise_zero_rejected_before_sampling(tiny_flux, tiny_clip):
    with pytest.raises(ValueError, match="denoise is 0.0: 0 runs no sampling steps"):
        _sample_node(tiny_flux, tiny_clip, {"samples": torch.zeros(1, 16, 8, 8)}, denoise=0.0)


def test_concept_warnings_and_length(tiny_clip, caplog):
    with caplog.at_level("WARNING"):
        encode_concepts(tiny_clip, ("\u9f8d",), width=64)  # a Chinese character T5 cannot read
    assert "only T5's unknown token" in caplog.text

    with pytest.raises(ValueError, match="T5 tokens long, over the limit of 511"):
        encode_concepts(tiny_clip, (" ".join(["dragon"] * 600),), width=64)


def test_concept_equal_to_anti_warns(tiny_flux, tiny_clip, caplog):
    with caplog.at_level("WARNING"):
        _sample_node(tiny_flux, tiny_clip, {"samples": torch.zeros(1, 16, 8, 8)}, steps=1, anti_concept="Dragon")

    assert "concept 'dragon' is also an anti-concept" in caplog.text
