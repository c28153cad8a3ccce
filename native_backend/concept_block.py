"""The concept stream through one FLUX.1 double block of ComfyUI, beside the unchanged block.

Ported from ConceptAttention (Helbling et al. 2025, https://github.com/helblazer811/ConceptAttention,
MIT) onto the public submodules of ComfyUI's ``DoubleStreamBlock``. The concept tokens go through
the block's text-stream weights (modulation, norms, qkv, output projection, MLP) and attend to the
concept and image tokens. Nothing attends to them, so the generated image does not depend on them.
"""

import torch
import torch.nn.functional as F


def modulate(values: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return values * (1 + scale) + shift


def rotate(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Apply FLUX's rotary embedding (``pe`` of matching length) to [B, heads, L, head_dim] values."""
    import comfy.ldm.flux.math as flux_math

    rotate_one = getattr(flux_math, "apply_rope1", None)
    if rotate_one is not None:
        return rotate_one(values, positions)
    return flux_math.apply_rope(values, values, positions)[0]


def concept_block(
    block,
    concepts: torch.Tensor,
    concept_vec: torch.Tensor,
    concept_positions: torch.Tensor,
    image_key: torch.Tensor,
    image_value: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the concept stream [B, C, D] through ``block``; return it updated and its attention output.

    ``image_key`` (rotated) and ``image_value`` are the block's own image keys and values
    [B, heads, P, head_dim]. The attention output [B, C, D] is taken before the output projection,
    where the image tokens' attention output is read too.
    """
    batch, count, width = concepts.shape
    heads = block.num_heads
    first, second = block.txt_mod(concept_vec)  # each: shift, scale, gate of [B, 1, D]

    normed = modulate(block.txt_norm1(concepts), first.shift, first.scale)
    qkv = block.txt_attn.qkv(normed)
    query, key, value = qkv.view(batch, count, 3, heads, -1).permute(2, 0, 3, 1, 4)
    query, key = block.txt_attn.norm(query, key, value)
    query, key = rotate(query, concept_positions), rotate(key, concept_positions)

    attended = F.scaled_dot_product_attention(
        query,
        torch.cat([key, image_key.to(key.dtype)], dim=2),  # [B, heads, C + P, head_dim]
        torch.cat([value, image_value.to(value.dtype)], dim=2),
    )
    attention = attended.transpose(1, 2).reshape(batch, count, width)  # heads side by side, as the block has them

    concepts = concepts + first.gate * block.txt_attn.proj(attention)
    concepts = concepts + second.gate * block.txt_mlp(modulate(block.txt_norm2(concepts), second.shift, second.scale))
    return concepts, attention
