"""Concept lists and the layout of their tokens in the concept stream."""

import logging
from dataclasses import dataclass

import mlx.core as mx

logger = logging.getLogger(__name__)


def parse_concept_list(text: str, input_name: str) -> tuple[str, ...]:
    """Split a comma-separated concept list into stripped names; empty entries are dropped."""
    if not isinstance(text, str):
        raise ValueError(f"{input_name} must be text, got {type(text).__name__}.")
    return tuple(name.strip() for name in text.split(",") if name.strip())


def validate_concept(name: str, input_name: str) -> str:
    """Return the stripped concept, or raise ValueError when it is empty or only spaces."""
    stripped = name.strip() if isinstance(name, str) else ""
    if not stripped:
        raise ValueError(f"{input_name} is empty ({name!r}): enter a word or short phrase, e.g. 'dragon'.")
    return stripped


def order_concepts(
    target: str, anti_concepts: tuple[str, ...], extra_concepts: tuple[str, ...]
) -> tuple[tuple[str, ...], int, tuple[int, ...]]:
    """Return all concepts in stream order (target, anti-concepts, extras), the target index and anti indices."""
    target = validate_concept(target, "concept")
    if not anti_concepts:
        raise ValueError("anti_concept is empty: enter at least one, e.g. 'background'.")
    anti = tuple(validate_concept(name, "anti_concept") for name in anti_concepts)
    extras = tuple(validate_concept(name, "extra_concepts") for name in extra_concepts)
    if target.lower() in (name.lower() for name in anti):
        logger.warning("concept %r is also an anti-concept, so its contrast map is all zeros.", target)
    return (target, *anti, *extras), 0, tuple(range(1, 1 + len(anti)))


@dataclass(frozen=True)
class ConceptSpans:
    """Token ranges of each concept in the concatenated concept sequence.

    spans[k] = (start, end) is the half-open token range of concept k; padding and EOS tokens were
    dropped before the concatenation, so the ranges tile [0, token_count) without gaps.
    """

    concepts: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if len(self.concepts) != len(self.spans):
            raise ValueError(f"{len(self.concepts)} concepts but {len(self.spans)} token spans.")
        for concept, (start, end) in zip(self.concepts, self.spans):
            if end <= start:
                raise ValueError(f"concept {concept!r} has no tokens (span {start}-{end}).")

    @property
    def token_count(self) -> int:
        return self.spans[-1][1] if self.spans else 0

    def pooling_matrix(self) -> mx.array:
        """Return the [K, C] matrix whose row k averages the tokens of concept k (float32)."""
        weights = mx.zeros((len(self.concepts), self.token_count), dtype=mx.float32)
        for index, (start, end) in enumerate(self.spans):
            weights[index, start:end] = 1.0 / (end - start)
        return weights
