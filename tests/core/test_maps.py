"""Plain, competition and contrast maps against float64 NumPy references."""

import logging

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.maps import competition_map, contrast_map, plain_map

RTOL, ATOL = 1e-4, 1e-5
FINITE_FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def reference_plain(scores, target):
    row = scores[target].astype(np.float64)
    spread = row.max() - row.min()
    return np.zeros_like(row) if spread == 0 else (row - row.min()) / spread


def reference_competition(stack, target):
    stack = stack.astype(np.float64)
    exponentials = np.exp(stack - stack.max(axis=1, keepdims=True))
    probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
    return probabilities[:, target, :].mean(axis=0)


@pytest.mark.parametrize("concepts, patches", [(1, 1), (2, 6), (5, 12), (3, 1024)])
def test_plain_map_matches_reference(concepts, patches):
    scores = np.random.default_rng(0).normal(size=(concepts, patches)).astype(np.float32)
    if patches == 1:
        expected = np.zeros(1)
    else:
        expected = reference_plain(scores, concepts - 1)
    result = plain_map(mx.array(scores), concepts - 1)
    assert result.dtype == mx.float32
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("value", [0.0, 5.0, -3e38])
def test_plain_map_constant_row_zeros(value, caplog):
    with caplog.at_level(logging.WARNING):
        result = plain_map(mx.full((2, 9), value), 0)
    assert np.array_equal(np.array(result), np.zeros(9))
    assert "constant" in caplog.text


def test_plain_map_extreme_values_finite():
    result = np.array(plain_map(mx.array([[-3e38, 0.0, 3e38]]), 0))
    np.testing.assert_allclose(result, [0.0, 0.5, 1.0], atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), elements=FINITE_FLOAT32))
def test_plain_map_property(scores):
    result = np.array(plain_map(mx.array(scores), 0))
    assert result.shape == (scores.shape[1],)
    assert np.all(np.isfinite(result))
    assert result.min() >= 0.0
    assert result.max() <= 1.0


@pytest.mark.parametrize("pairs, concepts, patches", [(1, 2, 1), (3, 2, 8), (4, 5, 30)])
def test_competition_map_matches_reference(pairs, concepts, patches):
    stack = np.random.default_rng(1).normal(scale=3.0, size=(pairs, concepts, patches)).astype(np.float32)
    result = competition_map(mx.array(stack), 1)
    np.testing.assert_allclose(np.array(result), reference_competition(stack, 1), rtol=RTOL, atol=ATOL)


def test_competition_map_two_concepts_is_sigmoid_of_contrast():
    stack = np.random.default_rng(2).normal(size=(1, 2, 16)).astype(np.float32)
    contrast = stack[0, 0].astype(np.float64) - stack[0, 1]
    result = np.array(competition_map(mx.array(stack), 0))
    np.testing.assert_allclose(result, 1.0 / (1.0 + np.exp(-contrast)), rtol=RTOL, atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 10)),
        elements=FINITE_FLOAT32,
    )
)
def test_competition_map_property(stack):
    result = np.array(competition_map(mx.array(stack), 0))
    assert result.shape == (stack.shape[2],)
    assert np.all(np.isfinite(result))
    assert result.min() >= 0.0
    assert result.max() <= 1.0


def test_competition_map_needs_two_concepts():
    with pytest.raises(ValueError, match="at least 2 concepts.*got 1"):
        competition_map(mx.zeros((2, 1, 4)), 0)


@pytest.mark.parametrize("leading", [(), (3,), (2, 3)])
def test_contrast_map_matches_reference(leading):
    scores = np.random.default_rng(3).normal(size=leading + (4, 10)).astype(np.float32)
    expected = scores[..., 0, :].astype(np.float64) - scores[..., [1, 3], :].mean(axis=-2)
    result = contrast_map(mx.array(scores), 0, (1, 3))
    assert result.shape == leading + (10,)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


def test_contrast_map_target_as_only_anti_gives_zeros():
    scores = mx.array(np.random.default_rng(4).normal(size=(3, 5)).astype(np.float32))
    assert np.array_equal(np.array(contrast_map(scores, 1, (1,))), np.zeros(5))


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_maps_accept_half_precision(dtype):
    scores = mx.array(np.arange(12, dtype=np.float32).reshape(2, 6)).astype(dtype)
    assert plain_map(scores, 0).dtype == mx.float32
    assert contrast_map(scores, 0, (1,)).dtype == mx.float32
    assert competition_map(scores[None], 0).dtype == mx.float32


@pytest.mark.parametrize(
    "target, anti, message",
    [
        (0, (), "anti must name at least one"),
        (3, (1,), r"target must be in \[0, 2\], got 3"),
        (0, (5,), r"anti index must be in \[0, 2\], got 5"),
        (0, (-1,), r"anti index must be in \[0, 2\], got -1"),
    ],
)
def test_contrast_map_errors(target, anti, message):
    with pytest.raises(ValueError, match=message):
        contrast_map(mx.zeros((3, 4)), target, anti)


def test_map_shape_errors():
    with pytest.raises(ValueError, match="scores must have shape"):
        plain_map(mx.zeros((4,)), 0)
    with pytest.raises(ValueError, match="layer_step_scores must have shape"):
        competition_map(mx.zeros((2, 4)), 0)
    with pytest.raises(ValueError, match="scores must have shape"):
        contrast_map(mx.zeros((4,)), 0, (1,))


def test_maps_reject_nan():
    scores = mx.array([[1.0, float("nan")], [0.0, 1.0]])
    with pytest.raises(NonFiniteError, match="plain map input"):
        plain_map(scores, 0)
    with pytest.raises(NonFiniteError, match="competition map input"):
        competition_map(scores[None], 0)
    with pytest.raises(NonFiniteError, match="contrast map input"):
        contrast_map(scores, 0, (1,))


def test_contrast_of_rounding_noise_is_zero():
    rng = np.random.default_rng(4)
    target = rng.normal(0.0, 30.0, size=(3, 64)).astype(np.float32)  # [N, P]
    anti = target * (1.0 + rng.normal(0.0, 1e-7, size=target.shape)).astype(np.float32)
    scores = mx.array(np.stack([target, anti], axis=1))  # [N, 2, P]

    contrast = np.array(contrast_map(scores, 0, (1,)))

    assert np.count_nonzero(contrast) == 0


def test_contrast_just_above_rounding_is_kept():
    target = np.linspace(-1.0, 1.0, 16, dtype=np.float32)
    anti = target.copy()
    anti[3] += 1e-3  # a real, if small, difference

    contrast = np.array(contrast_map(mx.array(np.stack([target, anti])), 0, (1,)))

    assert contrast[3] == pytest.approx(-1e-3, rel=1e-3)
