"""Conversion between ComfyUI's torch tensors and MLX arrays, at the node edges only.

IMAGE is [B, H, W, C] in 0..1 and MASK is [B, H, W]. Arrays enter MLX as float32, and tensors leave
on ComfyUI's intermediate device and dtype (float32 unless ComfyUI runs with fp16 intermediates).
"""

import sys

import mlx.core as mx
import numpy as np
import torch

RGB_CHANNELS = 3
GRAYSCALE_CHANNELS = 1
RGBA_CHANNELS = 4


def _output_device_and_dtype() -> tuple[torch.device, torch.dtype]:
    # A running ComfyUI has always imported model_management before a node executes. Importing it
    # here would parse ComfyUI's command line and probe devices, so tests outside ComfyUI get CPU float32.
    model_management = sys.modules.get("comfy.model_management")
    if model_management is None:
        return torch.device("cpu"), torch.float32
    dtype_getter = getattr(model_management, "intermediate_dtype", None)
    return model_management.intermediate_device(), dtype_getter() if dtype_getter else torch.float32


def torch_to_mlx(tensor: torch.Tensor) -> mx.array:
    """Copy a tensor of any float dtype and device into a float32 MLX array."""
    return mx.array(tensor.detach().to(device="cpu", dtype=torch.float32).numpy())


def mlx_to_torch(array: mx.array) -> torch.Tensor:
    """Return an MLX array as a tensor on ComfyUI's intermediate device and dtype.

    On the CPU in float32 the tensor shares the MLX buffer: NumPy's view of it keeps the MLX array
    alive, so nothing is copied. Another device or dtype costs one copy.
    """
    device, dtype = _output_device_and_dtype()
    values = np.asarray(array if array.dtype == mx.float32 else array.astype(mx.float32))  # a view, strides kept
    return torch.from_numpy(values).to(device=device, dtype=dtype)


def image_batch(image: torch.Tensor, input_name: str) -> torch.Tensor:
    """Return an IMAGE as [B, H, W, C]; a single [H, W, C] image gains the batch axis."""
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[-1] not in (GRAYSCALE_CHANNELS, RGB_CHANNELS, RGBA_CHANNELS):
        raise ValueError(f"{input_name} must be an IMAGE [batch, height, width, 1|3|4 channels], got shape {tuple(image.shape)}.")
    if 0 in image.shape:
        raise ValueError(f"{input_name} must not be empty, got shape {tuple(image.shape)}.")
    return image


def mask_batch(mask: torch.Tensor, input_name: str) -> torch.Tensor:
    """Return a MASK as [B, H, W]; a single [H, W] mask gains the batch axis."""
    if mask.ndim == 2:
        mask = mask.unsqueeze(0)
    if mask.ndim != 3:
        raise ValueError(f"{input_name} must be a MASK [batch, height, width], got shape {tuple(mask.shape)}.")
    if 0 in mask.shape:
        raise ValueError(f"{input_name} must not be empty, got shape {tuple(mask.shape)}.")
    return mask


def split_rgb_alpha(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Split an IMAGE [B, H, W, 1|3|4] into RGB [B, H, W, 3] and alpha [B, H, W, 1] (None without alpha).

    A grayscale channel is repeated into R, G and B.
    """
    channels = image.shape[-1]
    if channels == GRAYSCALE_CHANNELS:
        return image.expand(*image.shape[:-1], RGB_CHANNELS), None
    if channels == RGBA_CHANNELS:
        return image[..., :RGB_CHANNELS], image[..., RGB_CHANNELS:]
    return image, None
