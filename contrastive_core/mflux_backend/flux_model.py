"""The parts of a FLUX model that concept capture uses."""

from dataclasses import dataclass
from typing import Any

from .text_encoding import TextEncoder


@dataclass
class FluxModel:
    """A transformer, a VAE and a text encoder, as loaded by mflux or built for tests."""

    transformer: Any
    vae: Any
    text_encoder: TextEncoder
    model_config: Any
    description: str

    @property
    def joint_block_count(self) -> int:
        return len(self.transformer.transformer_blocks)
