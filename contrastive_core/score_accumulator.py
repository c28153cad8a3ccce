"""Per-(layer, step) concept scores, reduced as the transformer produces them."""

import mlx.core as mx

from .concepts import ConceptSpans


def _as_float32(values: mx.array) -> mx.array:
    # astype copies even when the dtype already matches; a [P, D] copy per layer and step adds up.
    return values if values.dtype == mx.float32 else values.astype(mx.float32)


class ScoreAccumulator:
    """Turns captured attention outputs into [K, P] concept scores for the selected layers and steps.

    Only the reduced scores are kept (K x P floats per selected layer and step), never the
    hidden-size-wide attention outputs, so memory does not depend on the model width.
    """

    def __init__(self, spans: ConceptSpans, layers: tuple[int, ...], steps: tuple[int, ...]) -> None:
        self.spans = spans
        self.layers = layers
        self.steps = steps
        self._pooling = spans.pooling_matrix()
        self._scores: dict[tuple[int, int], mx.array] = {}

    def wants(self, layer: int, step: int) -> bool:
        return layer in self.layers and step in self.steps

    @property
    def last_layer(self) -> int:
        return max(self.layers)

    def add(self, layer: int, step: int, concept_output: mx.array, image_output: mx.array) -> None:
        """Store the scores of one (layer, step) from outputs [1, C, D] (concepts) and [1, P, D] (image)."""
        _, concept_count, width = concept_output.shape
        _, patch_count, _ = image_output.shape
        concept_tokens = _as_float32(concept_output.reshape(concept_count, width))  # [C, D]
        image_tokens = _as_float32(image_output.reshape(patch_count, width))  # [P, D]
        pooled = self._pooling @ concept_tokens  # [K, D]: mean over each concept's tokens
        self._scores[(layer, step)] = pooled @ image_tokens.T  # [K, P]: dot products over D

    def pending(self) -> list[mx.array]:
        """Return the score arrays, to evaluate together with the latents of a step."""
        return list(self._scores.values())

    def stacked(self) -> mx.array:
        """Return the scores as [N, K, P], ordered by step, then layer."""
        missing = [(layer, step) for step in self.steps for layer in self.layers if (layer, step) not in self._scores]
        if missing:
            raise RuntimeError(f"no scores were captured for (layer, step) pairs {missing}.")
        return mx.stack([self._scores[(layer, step)] for step in self.steps for layer in self.layers])
