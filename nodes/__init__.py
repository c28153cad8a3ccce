"""ComfyUI V3 nodes: validate inputs, convert tensors at the edge, call contrastive_core."""
