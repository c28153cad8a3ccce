"""Prompt and concept text encoders for the mflux backend."""

from typing import Protocol

import mlx.core as mx
from mflux.models.flux.model.flux_text_encoder.prompt_encoder import PromptEncoder


class TextEncoder(Protocol):
    """Interface of a FLUX text encoder, as generation uses it."""

    token_limit: int

    def encode_prompt(self, prompt: str) -> tuple[mx.array, mx.array]:
        """Return the T5 sequence [1, T, 4096] and the pooled CLIP vector [1, 768] of the prompt."""
        ...

    def encode_concept(self, concept: str) -> mx.array:
        """Return the T5 outputs of the concept's real tokens only, [1, n, 4096]: no EOS, no padding."""
        ...


MESSAGE_CONCEPT_LENGTH = 40  # characters of a concept quoted in an error message


def check_token_count(concept: str, token_count: int, token_limit: int) -> None:
    """Raise ValueError when a concept has no tokens or more than the encoder takes."""
    quoted = repr(concept if len(concept) <= MESSAGE_CONCEPT_LENGTH else concept[:MESSAGE_CONCEPT_LENGTH] + "...")
    if token_count == 0:
        raise ValueError(f"concept {quoted} produced no tokens: use a word or short phrase.")
    if token_count >= token_limit:
        raise ValueError(
            f"concept {quoted} is {token_count} tokens long; the text encoder takes at most "
            f"{token_limit - 1} (plus its end-of-sequence token): shorten it."
        )


class MfluxTextEncoder:
    """T5 and CLIP encoders of a loaded mflux ``Flux1`` model."""

    def __init__(self, flux) -> None:
        self._flux = flux
        self._t5_tokenizer = flux.tokenizers["t5"]
        self.token_limit = int(self._t5_tokenizer.max_length)

    def encode_prompt(self, prompt: str) -> tuple[mx.array, mx.array]:
        flux = self._flux
        return PromptEncoder.encode_prompt(
            prompt=prompt,
            prompt_cache=flux.prompt_cache,
            t5_tokenizer=flux.tokenizers["t5"],
            clip_tokenizer=flux.tokenizers["clip"],
            t5_text_encoder=flux.t5_text_encoder,
            clip_text_encoder=flux.clip_text_encoder,
        )

    def encode_concept(self, concept: str) -> mx.array:
        # The concept is encoded alone, followed only by EOS, so that no padding token reaches T5's
        # self-attention (mflux pads to the full length without a mask); EOS is then dropped.
        tokenizer = self._t5_tokenizer.tokenizer
        token_ids = tokenizer(concept, add_special_tokens=False)["input_ids"]
        check_token_count(concept, len(token_ids), self.token_limit)
        encoded = self._flux.t5_text_encoder(mx.array([token_ids + [tokenizer.eos_token_id]]))
        return encoded[:, : len(token_ids)]
