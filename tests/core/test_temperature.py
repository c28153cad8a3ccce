"""Temperature softmax against a float64 NumPy softmax, constant rows and argument errors."""

import logging

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.temperature import temperature_softmax

RTOL, ATOL = 1e-4, 1e-5
FINITE_FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def reference_temperature_softmax(maps, temperature):
    maps = maps.astype(np.float64)
    z = maps / np.abs(maps).max(axis=1, keepdims=True)
    softmax = np.exp(z / temperature) / np.exp(z / temperature).sum(axis=1, keepdims=True)
    return softmax / softmax.max(axis=1, keepdims=True)


@pytest.mark.parametrize("batch, patches", [(1, 2), (3, 16), (2, 4096)])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0, 10.0])
def test_temperature_softmax_matches_reference(batch, patches, temperature):
    maps = np.random.default_rng(0).normal(size=(batch, patches)).astype(np.float32)
    result = temperature_softmax(mx.array(maps), temperature)
    assert result.dtype == mx.float32
    expected = reference_temperature_softmax(maps, temperature)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


def test_temperature_softmax_scale_invariant():
    maps = np.random.default_rng(1).normal(size=(1, 20)).astype(np.float32)
    small = np.array(temperature_softmax(mx.array(maps), 0.1))
    large = np.array(temperature_softmax(mx.array(maps * 1000), 0.1))
    np.testing.assert_allclose(small, large, rtol=RTOL, atol=ATOL)


def test_temperature_softmax_peaks_at_one():
    result = np.array(temperature_softmax(mx.array([[0.2, -1.0, 0.7]]), 0.1))
    assert result[0, 2] == 1.0


@pytest.mark.parametrize("value", [0.0, 2.5, -1e30])
def test_temperature_softmax_constant_row_zeros(value, caplog):
    maps = mx.array([[value] * 5, [0.0, 1.0, 2.0, 3.0, 4.0]])
    with caplog.at_level(logging.WARNING):
        result = np.array(temperature_softmax(maps, 0.1))
    assert np.array_equal(result[0], np.zeros(5))
    assert result[1].max() == 1.0
    assert "1 of 2 maps are constant" in caplog.text


def test_temperature_softmax_single_patch_zeros():
    assert np.array_equal(np.array(temperature_softmax(mx.array([[3.0]]), 0.1)), [[0.0]])


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), elements=FINITE_FLOAT32),
    st.floats(1e-3, 1e3),
)
def test_temperature_softmax_property(maps, temperature):
    result = np.array(temperature_softmax(mx.array(maps), temperature))
    assert result.shape == maps.shape
    assert np.all(np.isfinite(result))
    assert result.min() >= 0.0
    assert result.max() <= 1.0


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_temperature_softmax_accepts_half_precision(dtype):
    maps = mx.array([[0.0, 1.0, 2.0]]).astype(dtype)
    assert temperature_softmax(maps, 0.1).dtype == mx.float32


@pytest.mark.parametrize("temperature", [0, -0.1, float("nan"), float("inf")])
def test_temperature_softmax_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number greater than 0"):
        temperature_softmax(mx.ones((1, 3)), temperature)


def test_temperature_softmax_input_errors():
    with pytest.raises(ValueError, match=r"maps must have shape \[batch, patches\]"):
        temperature_softmax(mx.ones((3,)), 0.1)
    with pytest.raises(NonFiniteError, match="temperature softmax input"):
        temperature_softmax(mx.array([[1.0, float("inf")]]), 0.1)
