"""Inputs shared by the two capture nodes: the seed range, the concepts and the layer and step selections."""

from comfy_api.latest import io

MAX_SEED = 0xFFFFFFFFFFFFFFFF


def concept_inputs() -> list[io.Input]:
    """Return the concept, anti_concept and extra_concepts inputs."""
    return [
        io.String.Input(
            "concept",
            default="dragon",
            tooltip="The one concept to locate (a comma is part of the text here); several words are pooled over all their tokens.",
        ),
        io.String.Input(
            "anti_concept",
            default="background",
            tooltip="What to subtract from the concept's attention. Comma-separated for several; their mean is subtracted.",
        ),
        io.String.Input(
            "extra_concepts",
            default="",
            tooltip="Optional comma-separated concepts that join the standard (competition) map's softmax.",
        ),
    ]


def selection_inputs(blocks: str, steps: str) -> list[io.Input]:
    """Return the layers and steps_to_average inputs; ``blocks`` and ``steps`` name what is counted."""
    return [
        io.String.Input(
            "layers",
            default="last 4",
            tooltip=f"{blocks} to read attention from, counted from 0: 'all', 'last 4' (FLUX.1: blocks 15-18), '15-18' or '0,2,4'.",
        ),
        io.String.Input(
            "steps_to_average",
            default="all",
            tooltip=f"{steps} whose scores are averaged, counted from 0: 'all', 'last 2', '0-3' or '1,3'.",
        ),
    ]
