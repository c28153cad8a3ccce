"""ConceptHeatmap validation and the contrast, plain and competition renderings end to end."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.heatmap import ConceptHeatmap, render_competition, render_contrast, render_plain

RTOL, ATOL = 1e-4, 1e-5


def make_heatmap(stack, grid_height, grid_width, anti=(1,), target=0):
    pairs, concepts, _ = stack.shape
    return ConceptHeatmap(
        concepts=tuple(f"concept {index}" for index in range(concepts)),
        target=target,
        anti=anti,
        layer_step_scores=mx.array(stack),
        grid_height=grid_height,
        grid_width=grid_width,
        image_height=16 * grid_height,
        image_width=16 * grid_width,
        layers=tuple(range(pairs)),
        steps=(0,),
    )


def reference_sharpen(matrix, exponent):
    u, singular_values, vt = np.linalg.svd(matrix, full_matrices=False)
    if singular_values[0] == 0:
        return np.zeros(matrix.shape)
    return (u * (singular_values[0] * (singular_values / singular_values[0]) ** exponent)) @ vt


def reference_temperature(values, temperature):
    z = values / np.abs(values).max()
    return np.exp((z - z.max()) / temperature)


def reference_render_contrast(stack, grid_shape, target, anti, exponent, mode, temperature):
    stack = stack.astype(np.float64)
    contrast = stack[:, target, :] - stack[:, list(anti), :].mean(axis=1)  # [N, P]
    if mode == "spatial":
        sharpened = reference_sharpen(contrast.mean(axis=0).reshape(grid_shape), exponent).reshape(-1)
    else:
        sharpened = reference_sharpen(contrast, exponent).mean(axis=0)
    return reference_temperature(sharpened, temperature).reshape(grid_shape)


@pytest.mark.parametrize("pairs, concepts, grid_height, grid_width", [(1, 2, 4, 4), (3, 3, 5, 7), (6, 4, 8, 3)])
@pytest.mark.parametrize("mode", ["spatial", "consensus"])
def test_render_contrast_matches_reference(pairs, concepts, grid_height, grid_width, mode):
    stack = np.random.default_rng(0).normal(size=(pairs, concepts, grid_height * grid_width)).astype(np.float32)
    anti = tuple(range(1, concepts))
    result = render_contrast(make_heatmap(stack, grid_height, grid_width, anti), 2.0, mode, 0.5)
    assert result.shape == (grid_height, grid_width)
    assert result.dtype == mx.float32
    expected = reference_render_contrast(stack, (grid_height, grid_width), 0, anti, 2.0, mode, 0.5)
    np.testing.assert_allclose(np.array(result), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("mode", ["spatial", "consensus"])
def test_render_contrast_zero_contrast_1x1_grid(mode):
    stack = np.full((2, 2, 1), 0.7, dtype=np.float32)
    result = np.array(render_contrast(make_heatmap(stack, 1, 1), 2.0, mode, 0.1))
    assert np.array_equal(result, np.zeros((1, 1)))


@pytest.mark.parametrize("mode", ["spatial", "consensus"])
def test_render_contrast_large_grid(mode):
    stack = np.random.default_rng(1).normal(size=(2, 2, 128 * 128)).astype(np.float32)
    heatmap = make_heatmap(stack, 128, 128)
    mx.eval(heatmap.layer_step_scores)
    baseline = mx.get_active_memory()  # arrays other tests keep alive count towards the peak too
    mx.reset_peak_memory()
    result = render_contrast(heatmap, 2.0, mode, 0.1)
    mx.eval(result)
    assert mx.get_peak_memory() - baseline < (128 * 128) ** 2 * 4 / 64
    assert result.shape == (128, 128)
    assert float(mx.max(result).item()) == 1.0


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(2, 3), st.sampled_from([1, 4, 6])),
        elements=st.floats(-1e6, 1e6, width=32),
    ),
    st.sampled_from(["spatial", "consensus"]),
    st.floats(0.5, 4.0),
    st.floats(0.01, 2.0),
)
def test_renderings_property_in_range(stack, mode, exponent, temperature):
    grid_height = 2 if stack.shape[2] % 2 == 0 else 1
    heatmap = make_heatmap(stack, grid_height, stack.shape[2] // grid_height)
    for result in (
        render_contrast(heatmap, exponent, mode, temperature),
        render_plain(heatmap),
        render_competition(heatmap),
    ):
        values = np.array(result)
        assert values.shape == (heatmap.grid_height, heatmap.grid_width)
        assert np.all(np.isfinite(values))
        assert values.min() >= 0.0
        assert values.max() <= 1.0


def test_render_plain_and_competition_match_maps():
    stack = np.random.default_rng(2).normal(size=(3, 3, 6)).astype(np.float32)
    heatmap = make_heatmap(stack, 2, 3)
    mean_row = stack.astype(np.float64).mean(axis=0)[0]
    expected_plain = (mean_row - mean_row.min()) / (mean_row.max() - mean_row.min())
    np.testing.assert_allclose(np.array(render_plain(heatmap)), expected_plain.reshape(2, 3), rtol=RTOL, atol=ATOL)
    softmax = np.exp(stack) / np.exp(stack).sum(axis=1, keepdims=True)
    expected_competition = softmax[:, 0, :].mean(axis=0).reshape(2, 3)
    np.testing.assert_allclose(np.array(render_competition(heatmap)), expected_competition, rtol=RTOL, atol=ATOL)


def test_heatmap_scores_mean_and_half_precision():
    stack = mx.array(np.arange(24, dtype=np.float32).reshape(2, 2, 6)).astype(mx.bfloat16)
    heatmap = make_heatmap(stack, 2, 3)
    assert heatmap.layer_step_scores.dtype == mx.float32
    assert heatmap.scores.shape == (2, 6)
    np.testing.assert_allclose(np.array(heatmap.scores), np.array(stack.astype(mx.float32)).mean(axis=0))
    assert render_contrast(heatmap, 2.0, "spatial", 0.1).dtype == mx.float32


def test_render_contrast_nan_names_stage():
    stack = np.ones((1, 2, 4), dtype=np.float32)
    stack[0, 0, 1] = np.nan
    with pytest.raises(NonFiniteError, match="captured concept scores"):
        render_contrast(make_heatmap(stack, 2, 2), 2.0, "spatial", 0.1)
    with pytest.raises(NonFiniteError, match="captured concept scores"):
        render_plain(make_heatmap(stack, 2, 2))


@pytest.mark.parametrize(
    "exponent, mode, temperature, message",
    [
        (0.0, "spatial", 0.1, "exponent must be a finite number greater than 0"),
        (2.0, "spatial", -1.0, "temperature must be a finite number greater than 0"),
        (2.0, "global", 0.1, r"mode must be one of \('spatial', 'consensus'\), got 'global'"),
    ],
)
def test_render_contrast_argument_errors(exponent, mode, temperature, message):
    heatmap = make_heatmap(np.zeros((1, 2, 4), dtype=np.float32), 2, 2)
    with pytest.raises(ValueError, match=message):
        render_contrast(heatmap, exponent, mode, temperature)


def test_render_contrast_needs_anti():
    heatmap = make_heatmap(np.zeros((1, 2, 4), dtype=np.float32), 2, 2, anti=())
    with pytest.raises(ValueError, match="at least one anti-concept"):
        render_contrast(heatmap, 2.0, "spatial", 0.1)


@pytest.mark.parametrize(
    "shape, grid, anti, target, message",
    [
        ((1, 3, 4), (2, 2), (1,), 0, "has 3 concepts but concepts names 2"),
        ((1, 2, 5), (2, 2), (1,), 0, "has 5 patches, but the grid is 2 x 2 = 4"),
        ((0, 2, 4), (2, 2), (1,), 0, "at least 1 .layer, step. pair"),
        ((2, 4), (2, 2), (1,), 0, "layer_step_scores must have shape"),
        ((1, 2, 4), (2, 2), (2,), 0, r"anti index must be in \[0, 1\], got 2"),
        ((1, 2, 4), (2, 2), (1,), 5, r"target must be in \[0, 1\], got 5"),
        ((1, 2, 4), (0, 2), (1,), 0, "grid_height must be an integer >= 1, got 0"),
    ],
)
def test_heatmap_validation_errors(shape, grid, anti, target, message):
    with pytest.raises(ValueError, match=message):
        ConceptHeatmap(
            concepts=("dragon", "background"),
            target=target,
            anti=anti,
            layer_step_scores=mx.zeros(shape),
            grid_height=grid[0],
            grid_width=grid[1],
            image_height=32,
            image_width=32,
            layers=(0,),
            steps=(0,),
        )
