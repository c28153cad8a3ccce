"""Bilinear and nearest resizing against a float64 NumPy reference, orientation and errors."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.resize import upsample

RTOL, ATOL = 1e-4, 1e-5
SHAPES = [(1, 1, 1, 5, 3), (2, 4, 6, 37, 20), (1, 8, 5, 3, 2), (3, 2, 3, 2, 3), (1, 4, 4, 64, 64)]


def reference_axis_bilinear(values, size, axis):
    source_size = values.shape[axis]
    source = np.maximum((np.arange(size) + 0.5) * source_size / size - 0.5, 0.0)
    lower = np.minimum(np.floor(source).astype(int), source_size - 1)
    upper = np.minimum(lower + 1, source_size - 1)
    fraction = source - lower
    shape = [1] * values.ndim
    shape[axis] = size
    below, above = np.take(values, lower, axis=axis), np.take(values, upper, axis=axis)
    return below + (above - below) * fraction.reshape(shape)


def reference_axis_nearest(values, size, axis):
    source_size = values.shape[axis]
    index = np.minimum(np.floor((np.arange(size) + 0.5) * source_size / size).astype(int), source_size - 1)
    return np.take(values, index, axis=axis)


def reference_upsample(maps, height, width, method):
    resize_axis = reference_axis_nearest if method == "nearest" else reference_axis_bilinear
    return resize_axis(resize_axis(maps.astype(np.float64), height, 1), width, 2)


@pytest.mark.parametrize("batch, grid_height, grid_width, height, width", SHAPES)
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_upsample_matches_reference(batch, grid_height, grid_width, height, width, method):
    maps = np.random.default_rng(0).normal(size=(batch, grid_height, grid_width)).astype(np.float32)
    result = upsample(mx.array(maps), height, width, method)
    assert result.shape == (batch, height, width)
    assert result.dtype == mx.float32
    expected = reference_upsample(maps, height, width, method)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


def test_upsample_bilinear_known_values():
    # Half-pixel centres: output pixel centres of a 1 x 2 -> 1 x 4 resize sit at source x = -0.25,
    # 0.25, 0.75, 1.25, and the clamped edges repeat the end values.
    result = np.array(upsample(mx.array([[[0.0, 1.0]]]), 1, 4))
    np.testing.assert_allclose(result, [[[0.0, 0.25, 0.75, 1.0]]], atol=ATOL)


def test_upsample_1x1_grid_is_constant():
    result = np.array(upsample(mx.array([[[0.3]]]), 17, 23))
    np.testing.assert_allclose(result, np.full((1, 17, 23), 0.3), atol=ATOL)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_upsample_keeps_orientation(method):
    # Brighter at the top, 64 x 64 -> 600 high x 400 wide: the top rows stay brightest.
    column = np.linspace(1.0, 0.0, 64, dtype=np.float32)
    maps = np.broadcast_to(column[:, None], (64, 64))[None].copy()
    maps[0, :, :8] += 0.5  # and brighter on the left
    result = np.array(upsample(mx.array(maps), 600, 400, method))
    assert result.shape == (1, 600, 400)
    assert result[0, :300].mean() > result[0, 300:].mean()
    assert result[0, :, :200].mean() > result[0, :, 200:].mean()
    assert result[0, 0, 399] > result[0, 599, 399]


def test_upsample_downsamples():
    maps = np.random.default_rng(1).normal(size=(2, 64, 48)).astype(np.float32)
    result = upsample(mx.array(maps), 10, 7)
    np.testing.assert_allclose(np.array(result), reference_upsample(maps, 10, 7, "bilinear"), rtol=RTOL, atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
        elements=st.floats(0.0, 1.0, width=32),
    ),
    st.integers(1, 40),
    st.integers(1, 40),
    st.sampled_from(["bilinear", "nearest"]),
)
def test_upsample_property_stays_in_range(maps, height, width, method):
    result = np.array(upsample(mx.array(maps), height, width, method))
    assert result.shape == (maps.shape[0], height, width)
    assert np.all(np.isfinite(result))
    assert result.min() >= maps.min() - ATOL
    assert result.max() <= maps.max() + ATOL


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_upsample_accepts_half_precision(dtype):
    assert upsample(mx.ones((1, 2, 2)).astype(dtype), 5, 5).dtype == mx.float32


@pytest.mark.parametrize(
    "height, width, method, message",
    [
        (0, 4, "bilinear", "height must be an integer >= 1, got 0"),
        (4, -2, "bilinear", "width must be an integer >= 1, got -2"),
        (4.0, 4, "bilinear", "height must be an integer >= 1, got 4.0"),
        (4, 4, "bicubic", r"method must be one of \('bilinear', 'nearest'\), got 'bicubic'"),
    ],
)
def test_upsample_argument_errors(height, width, method, message):
    with pytest.raises(ValueError, match=message):
        upsample(mx.ones((1, 2, 2)), height, width, method)


def test_upsample_input_errors():
    with pytest.raises(ValueError, match="maps must have shape"):
        upsample(mx.ones((2, 2)), 4, 4)
    with pytest.raises(NonFiniteError, match="upsample input"):
        upsample(mx.array([[[float("nan")]]]), 4, 4)
