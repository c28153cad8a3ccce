"""One FLUX joint block run with the concept stream beside the text and image streams.

Ported from ConceptAttention (Helbling et al. 2025, https://github.com/helblazer811/ConceptAttention,
MIT) on top of mflux's joint block modules (https://github.com/filipstrand/mflux, MIT). The concept
tokens go through the block's text-stream weights and attend to the concept and image tokens.
Neither the image nor the text stream attends to them, so the generated image does not depend on
the concepts.
The image and text streams are computed with the same modules, in the same order, as mflux's
``JointTransformerBlock``.
"""

from dataclasses import dataclass

import mlx.core as mx
from mflux.models.flux.model.flux_transformer.common.attention_utils import AttentionUtils
from mflux.models.flux.model.flux_transformer.joint_transformer_block import JointTransformerBlock


@dataclass
class BlockStreams:
    """Hidden states entering or leaving a joint block: image [1, P, D], text [1, T, D], concepts [1, C, D]."""

    image: mx.array
    text: mx.array
    concepts: mx.array


@dataclass
class BlockAttention:
    """Attention outputs before the output projection: image tokens [1, P, D], concept tokens [1, C, D]."""

    image: mx.array
    concepts: mx.array


def _modulated_update(block, residual: mx.array, attention: mx.array, modulation: tuple, context: bool) -> mx.array:
    gate_msa, shift_mlp, scale_mlp, gate_mlp = modulation
    return JointTransformerBlock.apply_norm_and_feed_forward(
        hidden_states=residual,
        attn_output=attention,
        gate_mlp=gate_mlp,
        gate_msa=gate_msa,
        scale_mlp=scale_mlp,
        shift_mlp=shift_mlp,
        norm_layer=block.norm2_context if context else block.norm2,
        ff_layer=block.ff_context if context else block.ff,
    )


def _text_stream_qkv(attention, normed: mx.array) -> tuple[mx.array, mx.array, mx.array]:
    return AttentionUtils.process_qkv(
        hidden_states=normed,
        to_q=attention.add_q_proj,
        to_k=attention.add_k_proj,
        to_v=attention.add_v_proj,
        norm_q=attention.norm_added_q,
        norm_k=attention.norm_added_k,
        num_heads=attention.num_heads,
        head_dim=attention.head_dimension,
    )


def run_joint_block(
    block,
    streams: BlockStreams,
    text_embeddings: mx.array,
    concept_embeddings: mx.array,
    rotary_embeddings: mx.array,
    concept_rotary_embeddings: mx.array,
) -> tuple[BlockStreams, BlockAttention]:
    """Run ``block`` on the image and text streams as FLUX does, and the concept stream beside them."""
    attention = block.attn
    text_count = streams.text.shape[1]

    # 1. Adaptive layer norms; the concept stream has its own modulation vector.
    normed_image, *image_modulation = block.norm1(hidden_states=streams.image, text_embeddings=text_embeddings)
    normed_text, *text_modulation = block.norm1_context(hidden_states=streams.text, text_embeddings=text_embeddings)
    normed_concepts, *concept_modulation = block.norm1_context(
        hidden_states=streams.concepts, text_embeddings=concept_embeddings
    )

    # 2. Joint attention of [text; image], exactly as the unmodified block computes it.
    image_query, image_key, image_value = AttentionUtils.process_qkv(
        hidden_states=normed_image,
        to_q=attention.to_q,
        to_k=attention.to_k,
        to_v=attention.to_v,
        norm_q=attention.norm_q,
        norm_k=attention.norm_k,
        num_heads=attention.num_heads,
        head_dim=attention.head_dimension,
    )
    text_query, text_key, text_value = _text_stream_qkv(attention, normed_text)
    query = mx.concatenate([text_query, image_query], axis=2)  # [1, heads, T + P, head_dim]
    key = mx.concatenate([text_key, image_key], axis=2)
    value = mx.concatenate([text_value, image_value], axis=2)
    query, key = AttentionUtils.apply_rope(xq=query, xk=key, freqs_cis=rotary_embeddings)
    joint_output = AttentionUtils.compute_attention(
        query=query,
        key=key,
        value=value,
        batch_size=1,
        num_heads=attention.num_heads,
        head_dim=attention.head_dimension,
    )
    text_output, image_output = joint_output[:, :text_count], joint_output[:, text_count:]

    # 3. Concept queries attend to [concept keys; rotated image keys]; nothing attends to them.
    concept_query, concept_key, concept_value = _text_stream_qkv(attention, normed_concepts)
    concept_query, concept_key = AttentionUtils.apply_rope(
        xq=concept_query, xk=concept_key, freqs_cis=concept_rotary_embeddings
    )
    concept_output = AttentionUtils.compute_attention(
        query=concept_query,
        key=mx.concatenate([concept_key, key[:, :, text_count:]], axis=2),  # [1, heads, C + P, head_dim]
        value=mx.concatenate([concept_value, image_value], axis=2),
        batch_size=1,
        num_heads=attention.num_heads,
        head_dim=attention.head_dimension,
    )

    # 4. Output projections, gated residuals and feed-forward layers.
    updated = BlockStreams(
        image=_modulated_update(block, streams.image, attention.to_out[0](image_output), image_modulation, False),
        text=_modulated_update(block, streams.text, attention.to_add_out(text_output), text_modulation, True),
        concepts=_modulated_update(
            block, streams.concepts, attention.to_add_out(concept_output), concept_modulation, True
        ),
    )
    return updated, BlockAttention(image=image_output, concepts=concept_output)
