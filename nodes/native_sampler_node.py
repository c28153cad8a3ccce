"""Contrastive Concept Sampler: KSampler on ComfyUI's own FLUX.1, with the concept heatmap captured."""

from comfy_api.latest import io

from .capture_inputs import MAX_SEED, concept_inputs, selection_inputs
from .mlx_runtime import require_module
from .types import ConceptHeatmapType

NODE_NAME = "Contrastive Concept Sampler (FLUX)"


def _sampler_choices() -> tuple[list[str], list[str]]:
    import comfy.samplers

    return list(comfy.samplers.KSampler.SAMPLERS), list(comfy.samplers.KSampler.SCHEDULERS)


def _inputs() -> list[io.Input]:
    samplers, schedulers = _sampler_choices()
    return [
        io.Model.Input("model", tooltip="A FLUX.1 model (dev, schnell, Kontext, Fill), e.g. from Load Diffusion Model, with any LoRAs."),
        io.Clip.Input("clip", tooltip="FLUX's text encoders (DualCLIPLoader, type flux): the same CLIP as the prompt's. The concepts are encoded with its T5."),
        io.Conditioning.Input("positive", tooltip="The prompt, from CLIP Text Encode (with FluxGuidance for dev)."),
        io.Conditioning.Input("negative", tooltip="The negative prompt; with cfg 1 (usual for FLUX) it is not used."),
        io.Latent.Input("latent_image", tooltip="The latent to denoise, e.g. from EmptySD3LatentImage. Every image of a batch gets its own heatmap."),
        io.Int.Input("seed", default=0, min=0, max=MAX_SEED, control_after_generate=True, tooltip="Noise seed, as in KSampler."),
        io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Sampling steps: about 4 for schnell, 20 or more for dev."),
        io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip="Classifier-free guidance; FLUX uses 1 (the guidance lives in FluxGuidance)."),
        io.Combo.Input("sampler_name", options=samplers, default="euler", tooltip="The sampler, as in KSampler."),
        io.Combo.Input("scheduler", options=schedulers, default="simple", tooltip="The noise schedule, as in KSampler."),
        io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01, tooltip="How much of the latent is replaced by noise, as in KSampler."),
        *concept_inputs(),
        *selection_inputs("Double blocks", "Sampling steps"),
    ]


class ContrastiveConceptSampler(io.ComfyNode):
    """Samples like KSampler on ComfyUI's FLUX.1 and captures the concept scores in the same pass."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_FluxSampler",
            display_name=NODE_NAME,
            category="concept attention",
            description=(
                "Runs the sampler exactly as KSampler does on a FLUX.1 model loaded by ComfyUI (any GPU, MPS "
                "or CPU; full, fp8 or GGUF weights; LoRAs), and in the same pass scores where each concept "
                "attends in the image. The latent is bit-identical to KSampler's. Connect the heatmap to "
                "Heatmap To Mask, Spectral Sharpen or Heatmap Overlay, and the latent to VAE Decode."
            ),
            inputs=_inputs(),
            outputs=[
                io.Latent.Output(display_name="latent", tooltip="The sampled latent, identical to KSampler's with the same inputs."),
                ConceptHeatmapType.Output(
                    display_name="heatmap",
                    tooltip="Per-concept patch-grid scores of every selected layer and step (one per image of the batch).",
                ),
            ],
        )

    @classmethod
    def execute(
        cls,
        model,
        clip,
        positive,
        negative,
        latent_image,
        seed: int,
        steps: int,
        cfg: float,
        sampler_name: str,
        scheduler: str,
        denoise: float,
        concept: str,
        anti_concept: str,
        extra_concepts: str,
        layers: str,
        steps_to_average: str,
    ) -> io.NodeOutput:
        require_module("mlx", NODE_NAME)
        import mlx.core as mx

        from ..contrastive_core.concepts import order_concepts, parse_concept_list
        from ..contrastive_core.heatmap import ConceptHeatmap
        from ..contrastive_core.selection import parse_index_selection
        from ..native_backend.concept_text import encode_concepts
        from ..native_backend.flux_check import flux_transformer
        from ..native_backend.sampling import SamplingSettings, latent_samples, sample_with_capture

        transformer = flux_transformer(model)
        latent_samples(latent_image)
        if denoise <= 0:
            raise ValueError(
                f"denoise is {denoise}: 0 runs no sampling steps, so there is nothing to capture. Set denoise above 0."
            )
        concepts, target, anti = order_concepts(
            concept, parse_concept_list(anti_concept, "anti_concept"), parse_concept_list(extra_concepts, "extra_concepts")
        )
        layer_ids = parse_index_selection(layers, len(transformer.double_blocks), "layers", "double blocks in this model")
        step_ids = parse_index_selection(steps_to_average, steps, "steps_to_average", "sampling steps")
        encoded = encode_concepts(clip, concepts, transformer.txt_in.in_features)

        settings = SamplingSettings(seed, steps, cfg, sampler_name, scheduler, denoise)
        latent, captured = sample_with_capture(model, positive, negative, latent_image, settings, encoded, layer_ids, step_ids)
        grid_height, grid_width = captured.grid_size
        image_height, image_width = captured.image_size
        heatmaps = tuple(
            ConceptHeatmap(
                concepts=concepts,
                target=target,
                anti=anti,
                layer_step_scores=mx.array(scores),
                grid_height=grid_height,
                grid_width=grid_width,
                image_height=image_height,
                image_width=image_width,
                layers=captured.layers,
                steps=captured.steps,
            )
            for scores in captured.scores
        )
        return io.NodeOutput(latent, heatmaps[0] if len(heatmaps) == 1 else heatmaps)
