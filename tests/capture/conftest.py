"""A random-weight FLUX shared by the capture tests of one module."""

import pytest

mx = pytest.importorskip("mlx.core")
pytest.importorskip("mflux")

from contrastive_core.mflux_backend.random_model import build_random_flux  # noqa: E402


@pytest.fixture(scope="session")
def random_flux():
    """Two joint blocks and one single block, so that layer selection and the block order matter."""
    return build_random_flux(joint_blocks=2, single_blocks=1, seed=3)
