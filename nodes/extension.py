"""The ComfyExtension that lists this pack's nodes."""

from comfy_api.latest import ComfyExtension, io

from .contrastive_node import ContrastiveConceptAttention
from .heatmap_mask_node import HeatmapToMask
from .loader_node import MfluxFluxLoader
from .native_sampler_node import ContrastiveConceptSampler
from .overlay_node import HeatmapOverlay
from .sharpen_node import SpectralSharpen


class ContrastiveConceptAttentionExtension(ComfyExtension):
    """Registers the loader, the two capture nodes, and the rendering, sharpening and overlay nodes."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [
            MfluxFluxLoader,
            ContrastiveConceptAttention,
            ContrastiveConceptSampler,
            HeatmapToMask,
            SpectralSharpen,
            HeatmapOverlay,
        ]
