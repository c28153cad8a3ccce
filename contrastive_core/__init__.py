"""Contrastive concept attention for FLUX, computed with MLX.

The subpackages import MLX; this file does not, so that the ComfyUI pack still imports (and its
nodes explain what is missing) where MLX is not installed.
"""
