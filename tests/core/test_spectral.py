"""Spectral sharpening against a float64 NumPy SVD, edge cases, and its memory use."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.spectral import sharpen_consensus, sharpen_singular_values, sharpen_spatial

RTOL, ATOL = 1e-4, 1e-5
FINITE_FLOAT32 = st.floats(-1e6, 1e6, width=32, allow_nan=False, allow_infinity=False)


def reference_sharpen(matrix, exponent):
    u, singular_values, vt = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)
    if singular_values[0] == 0:
        return np.zeros(matrix.shape)
    sharpened = singular_values[0] * (singular_values / singular_values[0]) ** exponent
    return (u * sharpened) @ vt


def random_matrix(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (6, 4), (4, 6), (16, 16), (3, 500)])
@pytest.mark.parametrize("exponent", [0.5, 2.0, 3.0])
def test_sharpen_matches_reference(shape, exponent):
    matrix = random_matrix(shape)
    result = sharpen_singular_values(mx.array(matrix), exponent)
    assert result.shape == shape
    assert result.dtype == mx.float32
    expected = reference_sharpen(matrix, exponent)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (3, 5), (12, 12)])
def test_sharpen_exponent_one_is_identity(shape):
    matrix = random_matrix(shape, seed=1)
    result = sharpen_singular_values(mx.array(matrix), 1.0)
    np.testing.assert_allclose(np.array(result), matrix, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (7, 4)])
def test_sharpen_all_zero_stays_zero(shape):
    result = np.array(sharpen_singular_values(mx.zeros(shape), 2.0))
    assert np.array_equal(result, np.zeros(shape))


def test_sharpen_rank_one_unchanged():
    matrix = np.outer(np.arange(1, 5), np.arange(1, 7)).astype(np.float32)
    result = sharpen_singular_values(mx.array(matrix), 3.0)
    np.testing.assert_allclose(np.array(result), matrix, rtol=RTOL, atol=ATOL * matrix.max())


def test_sharpen_large_values_do_not_overflow():
    matrix = random_matrix((6, 5), seed=2) * np.float32(1e37)
    result = np.array(sharpen_singular_values(mx.array(matrix), 2.0))
    assert np.all(np.isfinite(result))
    expected = reference_sharpen(matrix, 2.0)
    np.testing.assert_allclose(result, expected, rtol=RTOL, atol=ATOL * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_sharpen_accepts_half_precision(dtype):
    result = sharpen_singular_values(mx.array(random_matrix((4, 3))).astype(dtype), 2.0)
    assert result.dtype == mx.float32


def test_sharpen_spatial_and_consensus():
    grid = random_matrix((5, 7), seed=3)
    np.testing.assert_allclose(
        np.array(sharpen_spatial(mx.array(grid), 2.0)), reference_sharpen(grid, 2.0), rtol=RTOL, atol=ATOL
    )
    stack = random_matrix((3, 35), seed=4)
    result = sharpen_consensus(mx.array(stack), 2.0)
    assert result.shape == (35,)
    expected = reference_sharpen(stack, 2.0).mean(axis=0)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=10), elements=FINITE_FLOAT32))
def test_sharpen_property_finite(matrix):
    result = np.array(sharpen_singular_values(mx.array(matrix), 2.0))
    assert result.shape == matrix.shape
    assert np.all(np.isfinite(result))


def test_sharpen_large_grid_memory_bounded():
    # 2 concept maps over a 128 x 128 grid: a P x P float32 matrix would take 1 GiB.
    patches = 128 * 128
    stack = mx.array(random_matrix((2, patches), seed=5))
    mx.eval(stack)
    baseline = mx.get_active_memory()  # arrays other tests keep alive count towards the peak too
    mx.reset_peak_memory()
    consensus = sharpen_consensus(stack, 2.0)
    spatial = sharpen_spatial(stack[0].reshape(128, 128), 2.0)
    mx.eval(consensus, spatial)
    peak = mx.get_peak_memory() - baseline
    assert peak < patches * patches * 4 / 64, f"peak memory {peak} bytes"
    expected = reference_sharpen(np.array(stack), 2.0).mean(axis=0)
    np.testing.assert_allclose(np.array(consensus), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("exponent", [0, -1.0, float("nan"), float("inf")])
def test_sharpen_rejects_bad_exponent(exponent):
    with pytest.raises(ValueError, match="exponent must be a finite number greater than 0"):
        sharpen_singular_values(mx.ones((2, 2)), exponent)


def test_sharpen_shape_errors():
    with pytest.raises(ValueError, match="matrix must have shape"):
        sharpen_singular_values(mx.ones((2, 2, 2)), 2.0)
    with pytest.raises(ValueError, match="grid must have shape"):
        sharpen_spatial(mx.ones((4,)), 2.0)
    with pytest.raises(ValueError, match="stack must have shape"):
        sharpen_consensus(mx.ones((4,)), 2.0)
    with pytest.raises(ValueError, match="every dimension >= 1"):
        sharpen_singular_values(mx.ones((0, 3)), 2.0)


def test_sharpen_rejects_nan():
    with pytest.raises(NonFiniteError, match="spectral sharpening input"):
        sharpen_singular_values(mx.array([[1.0, float("nan")]]), 2.0)
