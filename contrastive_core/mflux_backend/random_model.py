"""A FLUX with random weights and a few blocks, for tests and demos on machines without weights.

The transformer and VAE are mflux's own classes at full width (hidden size 3072, 24 heads); only the
block counts are small. No tokenizer or T5/CLIP weights can be had offline either, so a stand-in
text encoder maps word pieces to fixed random vectors. The pictures and heatmaps it makes are noise:
it proves the plumbing, never the quality.
"""

import re
import zlib

import mlx.core as mx
from mflux.models.common.config.model_config import ModelConfig
from mflux.models.flux.model.flux_transformer.transformer import Transformer
from mflux.models.flux.model.flux_vae.vae import VAE

from .flux_model import FluxModel
from .text_encoding import check_token_count

T5_WIDTH = 4096
CLIP_POOLED_WIDTH = 768
STAND_IN_VOCABULARY = 997
STAND_IN_TOKEN_LIMIT = 256
WORD_PIECE_LENGTH = 4
_WORD = re.compile(r"[a-z0-9]+")


def split_word_pieces(text: str) -> list[str]:
    """Split text into lower-case word pieces of at most 4 characters ("skyscraper" -> 3 pieces)."""
    pieces = []
    for word in _WORD.findall(text.lower()):
        pieces.extend(word[start : start + WORD_PIECE_LENGTH] for start in range(0, len(word), WORD_PIECE_LENGTH))
    return pieces


class StandInTextEncoder:
    """Deterministic random vectors per word piece, in place of T5 and CLIP."""

    token_limit = STAND_IN_TOKEN_LIMIT

    def __init__(self, seed: int) -> None:
        key = mx.random.key(seed)
        table_key, pooling_key = mx.random.split(key)
        self._table = mx.random.normal((STAND_IN_VOCABULARY, T5_WIDTH), key=table_key)
        self._pooling = mx.random.normal((T5_WIDTH, CLIP_POOLED_WIDTH), key=pooling_key) / T5_WIDTH**0.5

    def _token_ids(self, text: str) -> list[int]:
        return [zlib.crc32(piece.encode()) % STAND_IN_VOCABULARY for piece in split_word_pieces(text)]

    def encode_prompt(self, prompt: str) -> tuple[mx.array, mx.array]:
        token_ids = self._token_ids(prompt) or [0]
        embeddings = self._table[mx.array(token_ids)][None]  # [1, T, 4096]
        pooled = mx.mean(embeddings, axis=1) @ self._pooling  # [1, 768]
        return embeddings, pooled

    def encode_concept(self, concept: str) -> mx.array:
        token_ids = self._token_ids(concept)
        check_token_count(concept, len(token_ids), self.token_limit)
        return self._table[mx.array(token_ids)][None]  # [1, n, 4096]


def build_random_flux(joint_blocks: int = 2, single_blocks: int = 1, seed: int = 0) -> FluxModel:
    """Build a float32 FLUX.1-schnell layout with random weights and the given block counts."""
    if joint_blocks < 1 or single_blocks < 0:
        raise ValueError(f"joint_blocks must be >= 1 and single_blocks >= 0, got {joint_blocks} and {single_blocks}.")
    mx.random.seed(seed)
    model_config = ModelConfig.schnell()
    transformer = Transformer(
        model_config, num_transformer_blocks=joint_blocks, num_single_transformer_blocks=single_blocks
    )
    vae = VAE()
    mx.eval(transformer.parameters(), vae.parameters())
    return FluxModel(
        transformer=transformer,
        vae=vae,
        text_encoder=StandInTextEncoder(seed),
        model_config=model_config,
        description=f"random-weight FLUX ({joint_blocks} joint, {single_blocks} single blocks)",
    )
