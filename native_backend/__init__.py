"""Capture on ComfyUI's own FLUX.1 (torch, any device), beside the mflux backend.

This package imports torch and ComfyUI's ``comfy`` modules, so only nodes import it, inside their
``execute``. Its scores leave it as NumPy arrays, and the heatmap math stays in ``contrastive_core``.
"""
