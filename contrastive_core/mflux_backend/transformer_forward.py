"""The FLUX transformer forward pass with the concept stream in its joint blocks."""

from dataclasses import dataclass

import mlx.core as mx
from mflux.models.flux.model.flux_transformer.transformer import Transformer

from ..score_accumulator import ScoreAccumulator
from .joint_block import BlockStreams, run_joint_block

POSITION_ID_AXES = 3  # FLUX position ids: (unused index, row, column)


@dataclass
class StepInputs:
    """Everything one denoising call needs besides the transformer."""

    latents: mx.array  # [1, P, 64] packed latents
    prompt_embeds: mx.array  # [1, T, 4096]
    pooled_prompt_embeds: mx.array  # [1, 768]
    concept_embeds: mx.array  # [1, C, 4096], real tokens of all concepts, concatenated
    step: int
    config: object  # mflux Config: sigmas, guidance, image size


def predict_noise(transformer, inputs: StepInputs, accumulator: ScoreAccumulator) -> mx.array:
    """Return the transformer's prediction [1, P, 64], adding the step's concept scores to ``accumulator``."""
    config = inputs.config
    image = transformer.x_embedder(inputs.latents)
    text = transformer.context_embedder(inputs.prompt_embeds)
    text_embeddings = Transformer.compute_text_embeddings(
        inputs.step, inputs.pooled_prompt_embeds, transformer.time_text_embed, config
    )
    rotary_embeddings = Transformer.compute_rotary_embeddings(inputs.prompt_embeds, transformer.pos_embed, config, None)

    capture = inputs.step in accumulator.steps
    last_capture_layer = accumulator.last_layer if capture else -1
    image, text = _run_joint_blocks(transformer, image, text, text_embeddings, rotary_embeddings, inputs, accumulator, last_capture_layer)

    hidden_states = mx.concatenate([text, image], axis=1)
    for block in transformer.single_transformer_blocks:
        hidden_states = block(
            hidden_states=hidden_states, text_embeddings=text_embeddings, rotary_embeddings=rotary_embeddings
        )
    image = hidden_states[:, text.shape[1] :]
    return transformer.proj_out(transformer.norm_out(image, text_embeddings))


def _run_joint_blocks(transformer, image, text, text_embeddings, rotary_embeddings, inputs, accumulator, last_capture_layer):
    # The concept stream is only needed up to the last selected layer; later blocks run unmodified.
    concepts = transformer.context_embedder(inputs.concept_embeds) if last_capture_layer >= 0 else None
    if concepts is not None:
        # The concept stream is modulated by a zero pooled text vector (with the step's timestep and
        # guidance), as in ConceptAttention: one vector must serve every concept of the stream, and a
        # neutral one favours none of them.
        concept_embeddings = Transformer.compute_text_embeddings(
            inputs.step, mx.zeros_like(inputs.pooled_prompt_embeds), transformer.time_text_embed, inputs.config
        )
        concept_positions = mx.zeros((1, concepts.shape[1], POSITION_ID_AXES))  # text tokens sit at position 0
        concept_rotary_embeddings = transformer.pos_embed(concept_positions)

    for layer, block in enumerate(transformer.transformer_blocks):
        if layer > last_capture_layer:
            text, image = block(
                hidden_states=image,
                encoder_hidden_states=text,
                text_embeddings=text_embeddings,
                rotary_embeddings=rotary_embeddings,
            )
            continue
        streams, attention = run_joint_block(
            block,
            BlockStreams(image=image, text=text, concepts=concepts),
            text_embeddings,
            concept_embeddings,
            rotary_embeddings,
            concept_rotary_embeddings,
        )
        image, text, concepts = streams.image, streams.text, streams.concepts
        if accumulator.wants(layer, inputs.step):
            accumulator.add(layer, inputs.step, attention.concepts, attention.image)
    return image, text
