"""Concept text encoded with the workflow's own FLUX text encoder (the CLIP input), real tokens only."""

import logging
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

T5_KEY = "t5xxl"
T5_TOKEN_LIMIT = 512  # FLUX.1 dev's T5 sequence length; a concept and its end token must fit
# Ids in the T5 vocabulary of FLUX.1: the unknown token and the bare word-start piece.
T5_UNKNOWN_IDS = (2, 3)


@dataclass(frozen=True)
class EncodedConcepts:
    """The real T5 tokens of every concept, concatenated: embeddings [1, C, width] and each span."""

    embeddings: torch.Tensor
    spans: tuple[tuple[int, int], ...]


def _word_tokens(batches: list, concept: str) -> list:
    """Return the concept's real T5 tokens plus the end token, with weight 1 and no word ids."""
    if len(batches) != 1:
        raise ValueError(f"concept {concept!r} is too long: keep each concept to a word or a short phrase.")
    tokens = batches[0]
    real = [token for token in tokens if token[2] > 0]  # word id 0 marks the end token and padding
    if not real:
        raise ValueError(f"concept {concept!r} has no text tokens: enter a word or short phrase, e.g. 'dragon'.")
    if len(real) + 1 > T5_TOKEN_LIMIT:
        raise ValueError(
            f"concept {concept[:40]!r}... is {len(real)} T5 tokens long, over the limit of {T5_TOKEN_LIMIT - 1}: "
            "keep each concept to a word or a short phrase."
        )
    if all(token[0] in T5_UNKNOWN_IDS for token in real):
        logger.warning(
            "concept %r is only T5's unknown token, so its scores do not depend on its text: "
            "T5 reads English and a few European languages.",
            concept,
        )
    end = tokens[len(real)]
    if end[2] != 0 or any(token[2] == 0 for token in tokens[: len(real)]):
        raise RuntimeError(f"unexpected T5 token layout for concept {concept!r}: real tokens are not followed by the end token.")
    # Prompt weights such as "(dragon:1.3)" are dropped: a concept is scored, not weighted.
    return [(token[0], 1.0) for token in [*real, end]]


def _encode_one(clip, concept: str, width: int) -> torch.Tensor:
    tokens = clip.tokenize(concept, return_word_ids=True)
    if T5_KEY not in tokens:
        raise ValueError(
            f"clip has no T5 text encoder (it tokenizes for: {', '.join(sorted(tokens))}). Connect FLUX's text "
            "encoders, e.g. DualCLIPLoader with type flux, or the CLIP output of a FLUX checkpoint."
        )
    t5_tokens = _word_tokens(tokens[T5_KEY], concept)
    # Only the T5 sequence is used; the other encoders get the concept as the tokenizer made it.
    cut = {key: [[(token[0], 1.0) for token in batch] for batch in batches] for key, batches in tokens.items()}
    cut[T5_KEY] = [t5_tokens]
    encoded = clip.encode_from_tokens(cut)
    if encoded.ndim != 3 or encoded.shape[1] != len(t5_tokens):
        raise RuntimeError(
            f"the text encoder returned shape {tuple(encoded.shape)} for {len(t5_tokens)} T5 tokens of "
            f"concept {concept!r}; expected [1, {len(t5_tokens)}, width]."
        )
    if encoded.shape[2] != width:
        raise ValueError(
            f"clip encodes text {encoded.shape[2]} wide, but the model expects {width}: connect the text "
            "encoders that belong to this FLUX model."
        )
    return encoded[:, :-1].to(device="cpu", dtype=torch.float32)  # the end token is dropped


def encode_concepts(clip, concepts: tuple[str, ...], width: int) -> EncodedConcepts:
    """Encode each concept on its own, without padding, and concatenate their real tokens.

    Each concept is encoded from only its own tokens and the end token, as in the mflux backend, so
    a concept's embedding does not depend on the other concepts or on a padding length.
    """
    if clip is None:
        raise ValueError("clip is missing: connect the FLUX text encoders (the same CLIP as the prompt's).")
    encoded = [_encode_one(clip, concept, width) for concept in concepts]
    spans = []
    start = 0
    for embedding in encoded:
        spans.append((start, start + embedding.shape[1]))
        start += embedding.shape[1]
    return EncodedConcepts(embeddings=torch.cat(encoded, dim=1), spans=tuple(spans))
