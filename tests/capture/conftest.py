"""A random-weight FLUX shared by the capture tests of one module."""

from importlib.metadata import version

import pytest

mx = pytest.importorskip("mlx.core")
mflux = pytest.importorskip("mflux")

from contrastive_core.mflux_backend.random_model import build_random_flux  # noqa: E402


def pytest_report_header() -> str:
    """Name the mflux release under test (scripts/test.sh runs these tests against two).

    pytest prints it only when it is given this folder or a file in it.
    """
    return f"mflux {version('mflux')} from {mflux.__path__[0]}"


@pytest.fixture(scope="session")
def random_flux():
    """Two joint blocks and one single block, so that layer selection and the block order matter."""
    return build_random_flux(joint_blocks=2, single_blocks=1, seed=3)
