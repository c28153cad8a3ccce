"""Option names and defaults that the nodes need at schema time; imports no MLX."""

DEFAULT_EXPONENT = 2.0
DEFAULT_TEMPERATURE = 0.1

SHARPEN_MODES = ("spatial", "consensus")
UPSAMPLE_METHODS = ("bilinear", "nearest")

COLORMAPS = ("jet", "turbo", "inferno", "magma", "viridis", "plasma", "hot", "gray")
DEFAULT_COLORMAP = "jet"
DEFAULT_ALPHA = 0.5

# Pixels per side of one FLUX patch: the VAE downsamples by 8 and the transformer packs 2x2 latents.
PATCH_SIZE = 16
