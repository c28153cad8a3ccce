"""Custom ComfyUI socket types of this pack."""

from comfy_api.latest import io

# Raw per-concept patch-grid scores plus metadata (contrastive_core.heatmap.ConceptHeatmap).
ConceptHeatmapType = io.Custom("CONCEPT_HEATMAP")

# A FLUX model loaded through mflux (contrastive_core.mflux_backend.flux_model.FluxModel).
MfluxModelType = io.Custom("MFLUX_CONCEPT_MODEL")
