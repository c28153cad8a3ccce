"""Alpha blending of a coloured heatmap over an image: reference, broadcasting, resizing, errors."""

import matplotlib
import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contrastive_core.errors import NonFiniteError
from contrastive_core.overlay import overlay_heatmap

ATOL = 1e-5
UNIT_FLOAT32 = st.floats(0.0, 1.0, width=32)


def reference_overlay(image, heat, name, alpha):
    colour = matplotlib.colormaps[name](heat.astype(np.float64))[..., :3]
    return np.clip((1.0 - alpha) * image.astype(np.float64) + alpha * colour, 0.0, 1.0)


@pytest.mark.parametrize("image_batch, heat_batch", [(1, 1), (3, 3), (3, 1), (1, 2)])
@pytest.mark.parametrize("alpha", [0.0, 0.35, 1.0])
def test_overlay_matches_reference(image_batch, heat_batch, alpha):
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(image_batch, 6, 9, 3)).astype(np.float32)
    heat = rng.uniform(size=(heat_batch, 6, 9)).astype(np.float32)
    result = overlay_heatmap(mx.array(image), mx.array(heat), "turbo", alpha)
    assert result.shape == (max(image_batch, heat_batch), 6, 9, 3)
    assert result.dtype == mx.float32
    np.testing.assert_allclose(np.array(result), reference_overlay(image, heat, "turbo", alpha), atol=ATOL)


def test_overlay_resizes_heat_to_image():
    image = np.zeros((2, 32, 48, 3), dtype=np.float32)
    heat = np.zeros((2, 2, 3), dtype=np.float32)
    heat[:, 0, :] = 1.0  # hot top row of patches
    result = np.array(overlay_heatmap(mx.array(image), mx.array(heat), "jet", 1.0))
    assert result.shape == (2, 32, 48, 3)
    top_red, bottom_red = result[:, 0, :, 0].mean(), result[:, 31, :, 0].mean()
    assert top_red > 0.4
    assert bottom_red < 0.1


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float32, (2, 3, 4, 3), elements=UNIT_FLOAT32),
    hnp.arrays(np.float32, st.tuples(st.sampled_from([1, 2]), st.integers(1, 5), st.integers(1, 5)), elements=UNIT_FLOAT32),
    st.floats(0.0, 1.0),
)
def test_overlay_property_in_range(image, heat, alpha):
    result = np.array(overlay_heatmap(mx.array(image), mx.array(heat), "magma", alpha))
    assert result.shape == image.shape
    assert np.all(np.isfinite(result))
    assert result.min() >= 0.0
    assert result.max() <= 1.0


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_overlay_accepts_half_precision(dtype):
    image = mx.ones((1, 4, 4, 3)).astype(dtype)
    heat = mx.ones((1, 4, 4)).astype(dtype)
    assert overlay_heatmap(image, heat, "jet", 0.5).dtype == mx.float32


def test_overlay_batch_mismatch_names_both():
    with pytest.raises(ValueError, match="heat batch size 3 does not match image batch size 2"):
        overlay_heatmap(mx.ones((2, 4, 4, 3)), mx.ones((3, 4, 4)), "jet", 0.5)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.5"])
def test_overlay_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"alpha must be (a number )?in \[0, 1\]"):
        overlay_heatmap(mx.ones((1, 4, 4, 3)), mx.ones((1, 4, 4)), "jet", alpha)


def test_overlay_input_errors():
    with pytest.raises(ValueError, match="image must have 3 .RGB. channels, got 4"):
        overlay_heatmap(mx.ones((1, 4, 4, 4)), mx.ones((1, 4, 4)), "jet", 0.5)
    with pytest.raises(ValueError, match="heat must have shape"):
        overlay_heatmap(mx.ones((1, 4, 4, 3)), mx.ones((4, 4)), "jet", 0.5)
    with pytest.raises(ValueError, match="colormap must be one of"):
        overlay_heatmap(mx.ones((1, 4, 4, 3)), mx.ones((1, 4, 4)), "rainbow", 0.5)
    with pytest.raises(NonFiniteError, match="overlay input image"):
        overlay_heatmap(mx.full((1, 4, 4, 3), float("nan")), mx.ones((1, 4, 4)), "jet", 0.5)
