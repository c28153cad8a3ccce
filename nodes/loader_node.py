"""Model loader node: FLUX through mflux, cached across runs."""

from comfy_api.latest import io

from ..contrastive_core.mflux_backend.variants import available_variants
from .mlx_runtime import require_module
from .types import MfluxModelType

QUANTIZE_OPTIONS = ("none", "8", "4")


class MfluxFluxLoader(io.ComfyNode):
    """Loads FLUX.1 with mflux and keeps one model in memory across runs."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ContrastiveAttention_MfluxLoader",
            display_name="Load FLUX (mflux)",
            category="concept attention",
            description=(
                "Loads FLUX.1 through mflux (MLX) for concept attention. The model stays in memory and is "
                "reloaded only when these settings change."
            ),
            inputs=[
                io.Combo.Input(
                    "model",
                    options=list(available_variants()),
                    default="schnell",
                    tooltip="FLUX.1 variant: schnell (4 steps, no guidance) or dev (20+ steps, guidance).",
                ),
                io.String.Input(
                    "local_path",
                    default="",
                    tooltip=(
                        "Folder with the weights (diffusers layout or an mflux-save output). Empty: the "
                        "Hugging Face cache, downloading once when online."
                    ),
                ),
                io.Combo.Input(
                    "quantize",
                    options=list(QUANTIZE_OPTIONS),
                    default="none",
                    tooltip="Quantize the weights on load: 8 or 4 bits save memory at a small cost in quality.",
                ),
                io.String.Input(
                    "loras",
                    default="",
                    multiline=True,
                    tooltip="Optional LoRA files, one per line as path or path:scale (scale 1.0 when left out).",
                ),
            ],
            outputs=[MfluxModelType.Output(display_name="model", tooltip="The loaded FLUX model, for Contrastive Concept Attention.")],
        )

    @classmethod
    def execute(cls, model: str, local_path: str, quantize: str, loras: str) -> io.NodeOutput:
        require_module("mlx", "Load FLUX (mflux)")
        require_module("mflux", "Load FLUX (mflux)")
        from ..contrastive_core.mflux_backend.model_loading import MODEL_CACHE, LoadSettings, parse_lora_lines

        lora_paths, lora_scales = parse_lora_lines(loras)
        settings = LoadSettings(
            variant=model,
            model_path=local_path.strip(),
            quantize=None if quantize == "none" else int(quantize),
            lora_paths=lora_paths,
            lora_scales=lora_scales,
        )
        return io.NodeOutput(MODEL_CACHE.get(settings))
