"""Colour map tables pinned against matplotlib, RGB order, and the lookup of map values."""

import matplotlib
import mlx.core as mx
import numpy as np
import pytest

from contrastive_core.colormap import apply_colormap, colormap_table
from contrastive_core.errors import NonFiniteError
from contrastive_core.options import COLORMAPS


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormap_table_matches_matplotlib(name):
    table = np.array(colormap_table(name))
    assert table.shape == (256, 3)
    expected = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    np.testing.assert_allclose(table, expected, atol=1e-6)


@pytest.mark.parametrize("name", COLORMAPS)
def test_apply_colormap_matches_matplotlib(name):
    maps = np.random.default_rng(0).uniform(size=(2, 5, 7)).astype(np.float32)
    maps[0, 0, :3] = [0.0, 1.0, 0.5]
    result = apply_colormap(mx.array(maps), name)
    assert result.shape == (2, 5, 7, 3)
    assert result.dtype == mx.float32
    expected = matplotlib.colormaps[name](maps.astype(np.float64))[..., :3]
    np.testing.assert_allclose(np.array(result), expected, atol=1e-6)


def test_jet_ends_are_dark_red_and_dark_blue():
    colours = np.array(apply_colormap(mx.array([[[1.0, 0.0]]]), "jet"))[0, 0]
    red, green, blue = colours[0]
    assert red > 0.4
    assert green < 0.1
    assert blue < 0.1
    red, green, blue = colours[1]
    assert blue > 0.4
    assert red < 0.1
    assert green < 0.1


def test_gray_is_equal_channels():
    colours = np.array(apply_colormap(mx.array([[[0.0, 0.5, 1.0]]]), "gray"))[0, 0]
    assert np.allclose(colours[:, 0], colours[:, 1])
    assert np.allclose(colours[:, 1], colours[:, 2])
    np.testing.assert_allclose(colours[[0, 2], 0], [0.0, 1.0], atol=1e-6)


def test_apply_colormap_clips_out_of_range():
    colours = np.array(apply_colormap(mx.array([[[-0.5, 1.5]]]), "viridis"))[0, 0]
    table = np.array(colormap_table("viridis"))
    np.testing.assert_array_equal(colours, table[[0, 255]])


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
def test_apply_colormap_accepts_half_precision(dtype):
    assert apply_colormap(mx.ones((1, 2, 2)).astype(dtype), "jet").dtype == mx.float32


def test_colormap_errors():
    with pytest.raises(ValueError, match=r"colormap must be one of \('jet'.*got 'rainbow'"):
        colormap_table("rainbow")
    with pytest.raises(ValueError, match="colormap must be one of"):
        apply_colormap(mx.ones((1, 2, 2)), "rainbow")
    with pytest.raises(ValueError, match="maps must have shape"):
        apply_colormap(mx.ones((2, 2)), "jet")
    with pytest.raises(NonFiniteError, match="colour map input"):
        apply_colormap(mx.array([[[float("nan")]]]), "jet")
