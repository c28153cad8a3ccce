"""The check of which ComfyUI MODELs the native capture supports, with errors that name what to connect."""

SUPPORTED = "FLUX.1 models (dev, schnell, Kontext, Fill, and fine-tunes or LoRAs of them)"


def flux_transformer(model: object, input_name: str = "model"):
    """Return the FLUX.1 transformer (``comfy.ldm.flux.model.Flux``) inside a ComfyUI MODEL.

    FLUX.2 shares the transformer class but modulates every block from one global vector and uses
    another text encoder. Chroma, LongCat-Image and other relatives change the blocks or the
    positions. All of them are rejected here rather than hooked with the wrong assumptions.
    """
    import comfy.ldm.flux.model
    import comfy.model_base

    base_model = getattr(model, "model", None)
    transformer = getattr(base_model, "diffusion_model", None)
    if base_model is None or transformer is None:
        raise ValueError(
            f"{input_name} is a {type(model).__name__}, not a ComfyUI MODEL: connect the MODEL output "
            "of Load Diffusion Model (UNETLoader), Load Checkpoint or a LoRA loader."
        )
    found = f"{type(base_model).__name__} ({type(transformer).__module__}.{type(transformer).__name__})"
    if type(base_model) is not comfy.model_base.Flux or type(transformer) is not comfy.ldm.flux.model.Flux:
        raise ValueError(
            f"{input_name} is not a FLUX.1 model but {found}, and the native capture supports {SUPPORTED}. For other "
            "models there is no concept stream to hook."
        )
    if getattr(transformer.params, "global_modulation", False):
        raise ValueError(f"{input_name} is a FLUX.2 model, but the native capture supports {SUPPORTED}.")
    if len(transformer.double_blocks) < 1:
        raise ValueError(f"{input_name} has no double (joint) blocks, so there is no attention to capture.")
    return transformer
