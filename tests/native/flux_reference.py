"""An independent float64 computation of FLUX.1's double blocks with a concept stream, from a state dict.

Written from the FLUX.1 architecture (Black Forest Labs) and ConceptAttention's definition of
concept scores, with plain tensor operations only. No ComfyUI module and no code of this pack is
used, so agreement with the capture checks both the hooks and the concept-stream arithmetic.
"""

import math

import torch

AXES = (16, 56, 56)
THETA = 10000
PATCH = 2
EPS = 1e-6


def _linear(weights: dict, name: str, values: torch.Tensor) -> torch.Tensor:
    return values @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def _embedder(weights: dict, name: str, values: torch.Tensor) -> torch.Tensor:
    hidden = torch.nn.functional.silu(_linear(weights, f"{name}.in_layer", values))
    return _linear(weights, f"{name}.out_layer", hidden)


def _sinusoid(times: torch.Tensor, width: int = 256) -> torch.Tensor:
    half = width // 2
    frequencies = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    angles = 1000.0 * times[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def _angles(ids: torch.Tensor) -> torch.Tensor:
    """Rotary angles [B, L, head_dim / 2] for position ids [B, L, 3]."""
    parts = []
    for axis, width in enumerate(AXES):
        omega = THETA ** -(torch.arange(0, width, 2, dtype=torch.float64) / width)
        parts.append(ids[..., axis, None] * omega)
    return torch.cat(parts, dim=-1)


def _rotate(values: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    pairs = values.reshape(*values.shape[:-1], -1, 2)
    cos, sin = torch.cos(angles)[:, None], torch.sin(angles)[:, None]
    first = cos * pairs[..., 0] - sin * pairs[..., 1]
    second = sin * pairs[..., 0] + cos * pairs[..., 1]
    return torch.stack([first, second], dim=-1).reshape(values.shape)


def _layer_norm(values: torch.Tensor) -> torch.Tensor:
    centred = values - values.mean(-1, keepdim=True)
    return centred / torch.sqrt((centred**2).mean(-1, keepdim=True) + EPS)


def _rms_norm(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return values / torch.sqrt((values**2).mean(-1, keepdim=True) + EPS) * scale


def _norm_scale(weights: dict, name: str) -> torch.Tensor:
    # FLUX.1 checkpoints name RMSNorm scales "scale"; ComfyUI's modules name them "weight".
    return weights[f"{name}.scale"] if f"{name}.scale" in weights else weights[f"{name}.weight"]


def _attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    weights = torch.softmax(query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1]), dim=-1)
    out = weights @ value  # [B, H, L, D]
    return out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)


class _Stream:
    """One stream's view of a double block: its modulation, qkv and update (prefix img_ or txt_)."""

    def __init__(self, weights: dict, block: str, kind: str, vec: torch.Tensor, heads: int) -> None:
        self.weights, self.prefix, self.heads = weights, f"{block}.{kind}_", heads
        modulation = _linear(weights, f"{self.prefix}mod.lin", torch.nn.functional.silu(vec))[:, None]
        self.shift1, self.scale1, self.gate1, self.shift2, self.scale2, self.gate2 = modulation.chunk(6, dim=-1)

    def qkv(self, hidden: torch.Tensor, angles: torch.Tensor):
        normed = _layer_norm(hidden) * (1 + self.scale1) + self.shift1
        batch, length, _ = hidden.shape
        qkv = _linear(self.weights, f"{self.prefix}attn.qkv", normed).reshape(batch, length, 3, self.heads, -1)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        query = _rms_norm(query, _norm_scale(self.weights, f"{self.prefix}attn.norm.query_norm"))
        key = _rms_norm(key, _norm_scale(self.weights, f"{self.prefix}attn.norm.key_norm"))
        return _rotate(query, angles), _rotate(key, angles), value

    def update(self, hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        hidden = hidden + self.gate1 * _linear(self.weights, f"{self.prefix}attn.proj", attention)
        normed = _layer_norm(hidden) * (1 + self.scale2) + self.shift2
        inner = torch.nn.functional.gelu(_linear(self.weights, f"{self.prefix}mlp.0", normed), approximate="tanh")
        return hidden + self.gate2 * _linear(self.weights, f"{self.prefix}mlp.2", inner)


def reference_scores(
    state_dict: dict,
    latent: torch.Tensor,
    sigma: float,
    context: torch.Tensor,
    pooled: torch.Tensor,
    concepts: torch.Tensor,
    spans: tuple[tuple[int, int], ...],
    layers: tuple[int, ...],
    guidance: float | None = None,
    heads: int = 1,
) -> torch.Tensor:
    """Concept scores [len(layers), K, P] of one model call on one latent [1, C, H, W].

    ``guidance`` is the distilled guidance of a dev-style model (with ``guidance_in`` weights).
    """
    weights = {name: tensor.to(torch.float64) for name, tensor in state_dict.items()}
    latent, context, pooled, concepts = (t.to(torch.float64) for t in (latent, context, pooled, concepts))
    _, channels, height, width = latent.shape
    rows, cols = height // PATCH, width // PATCH
    patches = latent.reshape(1, channels, rows, PATCH, cols, PATCH).permute(0, 2, 4, 1, 3, 5).reshape(1, rows * cols, -1)

    image = _linear(weights, "img_in", patches)
    text = _linear(weights, "txt_in", context)
    concept_stream = _linear(weights, "txt_in", concepts)
    times = torch.tensor([sigma], dtype=torch.float64)
    shared = _embedder(weights, "time_in", _sinusoid(times))
    if guidance is not None:
        shared = shared + _embedder(weights, "guidance_in", _sinusoid(torch.tensor([guidance], dtype=torch.float64)))
    vec = shared + _embedder(weights, "vector_in", pooled)
    concept_vec = shared + _embedder(weights, "vector_in", torch.zeros_like(pooled))  # zero pooled vector

    image_ids = torch.zeros(rows, cols, 3, dtype=torch.float64)
    image_ids[..., 1] = torch.arange(rows, dtype=torch.float64)[:, None]
    image_ids[..., 2] = torch.arange(cols, dtype=torch.float64)[None, :]
    image_angles = _angles(image_ids.reshape(1, -1, 3))
    text_angles = _angles(torch.zeros(1, text.shape[1], 3, dtype=torch.float64))
    concept_angles = _angles(torch.zeros(1, concept_stream.shape[1], 3, dtype=torch.float64))

    pooling = torch.zeros(len(spans), concept_stream.shape[1], dtype=torch.float64)
    for index, (start, end) in enumerate(spans):
        pooling[index, start:end] = 1.0 / (end - start)

    scores = []
    for layer in range(max(layers) + 1):
        block = f"double_blocks.{layer}"
        image_side = _Stream(weights, block, "img", vec, heads)
        text_side = _Stream(weights, block, "txt", vec, heads)
        concept_side = _Stream(weights, block, "txt", concept_vec, heads)
        image_q, image_k, image_v = image_side.qkv(image, image_angles)
        text_q, text_k, text_v = text_side.qkv(text, text_angles)
        concept_q, concept_k, concept_v = concept_side.qkv(concept_stream, concept_angles)

        joint = _attend(
            torch.cat([text_q, image_q], dim=2), torch.cat([text_k, image_k], dim=2), torch.cat([text_v, image_v], dim=2)
        )
        text_attention, image_attention = joint[:, : text.shape[1]], joint[:, text.shape[1] :]
        concept_attention = _attend(concept_q, torch.cat([concept_k, image_k], dim=2), torch.cat([concept_v, image_v], dim=2))
        if layer in layers:
            scores.append((pooling @ concept_attention[0]) @ image_attention[0].T)

        image = image_side.update(image, image_attention)
        text = text_side.update(text, text_attention)
        concept_stream = concept_side.update(concept_stream, concept_attention)
    return torch.stack(scores)
