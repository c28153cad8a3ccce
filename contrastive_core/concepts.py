"""Concept lists and the layout of their tokens in the concept stream."""

from dataclasses import dataclass

import mlx.core as mx


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
