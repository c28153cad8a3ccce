"""Conversions between torch tensors and MLX arrays at the node edges."""

import types

import mlx.core as mx
import numpy as np
import pytest
import torch

from contrastive_attention_pack.nodes import tensor_edge


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_torch_to_mlx_gives_float32(dtype):
    tensor = torch.tensor([[0.0, 0.25], [0.5, 1.0]], dtype=dtype)

    array = tensor_edge.torch_to_mlx(tensor)

    assert array.dtype == mx.float32
    np.testing.assert_array_equal(np.array(array), [[0.0, 0.25], [0.5, 1.0]])


def test_mlx_to_torch_outside_comfyui_is_cpu_float32(monkeypatch):
    monkeypatch.delitem(tensor_edge.sys.modules, "comfy.model_management", raising=False)

    tensor = tensor_edge.mlx_to_torch(mx.array([0.5, 1.0], dtype=mx.bfloat16))

    assert tensor.dtype == torch.float32
    assert tensor.device == torch.device("cpu")
    assert tensor.tolist() == [0.5, 1.0]


def test_mlx_to_torch_keeps_views_right(monkeypatch):
    monkeypatch.delitem(tensor_edge.sys.modules, "comfy.model_management", raising=False)
    values = mx.arange(24, dtype=mx.float32).reshape(2, 3, 4)
    expected = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)

    sliced = tensor_edge.mlx_to_torch(values[1:2])
    transposed = tensor_edge.mlx_to_torch(mx.transpose(values, (0, 2, 1)))
    del values  # the tensors keep the MLX buffer alive

    assert torch.equal(sliced, expected[1:2])
    assert torch.equal(transposed, expected.permute(0, 2, 1))
    assert torch.equal(sliced * 2, expected[1:2] * 2)


def test_mlx_to_torch_uses_loaded_comfyui_settings(monkeypatch):
    fake_model_management = types.SimpleNamespace(
        intermediate_device=lambda: torch.device("cpu"),
        intermediate_dtype=lambda: torch.float16,
    )
    monkeypatch.setitem(tensor_edge.sys.modules, "comfy.model_management", fake_model_management)

    tensor = tensor_edge.mlx_to_torch(mx.array([0.5, 1.0]))

    assert tensor.dtype == torch.float16


def test_image_batch_adds_batch_axis():
    assert tuple(tensor_edge.image_batch(torch.zeros(5, 7, 3), "image").shape) == (1, 5, 7, 3)


@pytest.mark.parametrize("shape", [(1, 5, 7, 2), (5, 7), (1, 0, 7, 3)])
def test_image_batch_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"image must .*got shape"):
        tensor_edge.image_batch(torch.zeros(shape), "image")


def test_mask_batch_adds_batch_axis():
    assert tuple(tensor_edge.mask_batch(torch.zeros(5, 7), "mask").shape) == (1, 5, 7)


@pytest.mark.parametrize("shape", [(1, 5, 7, 1), (7,), (2, 0, 7)])
def test_mask_batch_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"mask must .*got shape"):
        tensor_edge.mask_batch(torch.zeros(shape), "mask")


def test_split_grayscale_repeats_channel():
    gray = torch.rand(2, 4, 6, 1)

    rgb, alpha = tensor_edge.split_rgb_alpha(gray)

    assert tuple(rgb.shape) == (2, 4, 6, 3)
    assert alpha is None
    for channel in range(3):
        assert torch.equal(rgb[..., channel], gray[..., 0])


def test_split_rgba_separates_alpha():
    rgba = torch.rand(2, 4, 6, 4)

    rgb, alpha = tensor_edge.split_rgb_alpha(rgba)

    assert torch.equal(rgb, rgba[..., :3])
    assert torch.equal(alpha, rgba[..., 3:])


def test_split_rgb_passes_through():
    image = torch.rand(1, 4, 6, 3)

    rgb, alpha = tensor_edge.split_rgb_alpha(image)

    assert rgb is image
    assert alpha is None
