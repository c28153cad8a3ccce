"""Contrastive concept attention for FLUX, computed with MLX.

The subpackages import MLX, but this file does not. So the ComfyUI pack still imports where MLX is
not installed, and its nodes explain what is missing.
"""
