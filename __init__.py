"""ComfyUI entry point of the contrastive concept attention node pack.

ComfyUI's V3 loader calls ``comfy_entrypoint``. The node modules are imported inside it, so that
importing this package needs neither ComfyUI nor MLX (tests load it without either).
"""


async def comfy_entrypoint():
    """Return the extension that registers this pack's nodes."""
    from .nodes.extension import ContrastiveConceptAttentionExtension

    return ContrastiveConceptAttentionExtension()
