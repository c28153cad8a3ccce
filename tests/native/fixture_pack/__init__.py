"""Test-only ComfyUI node pack: a tiny random FLUX.1 text encoder, so workflows run without weights.

The test server loads this folder as a second custom node pack. Diffusion models need no node
here: tests save them with ``tiny_models.save_tiny_flux`` under ``models/diffusion_models`` and
load them with the stock UNETLoader.
"""

from .tiny_models import tiny_flux_clip


class TinyFluxClip:
    """Output a FLUX.1 CLIP with the real tokenizer and tiny random T5 and CLIP-L text models."""

    CATEGORY = "testing"
    FUNCTION = "build"
    RETURN_TYPES = ("CLIP",)
    DESCRIPTION = "A random-weight FLUX.1 text encoder for tests: the real tokenizer with tiny T5 and CLIP-L."

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "seed": (
                    "INT",
                    {"default": 0, "min": 0, "max": 2**31 - 1, "tooltip": "Seed of the random text encoder weights."},
                ),
            }
        }

    def build(self, seed: int):
        return (tiny_flux_clip(seed),)


NODE_CLASS_MAPPINGS = {"ContrastiveAttentionTest_TinyFluxClip": TinyFluxClip}
NODE_DISPLAY_NAME_MAPPINGS = {"ContrastiveAttentionTest_TinyFluxClip": "Tiny FLUX Text Encoder (test)"}
