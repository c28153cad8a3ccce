"""Options import without MLX; check_finite and the argument checks raise clear errors."""

import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import pytest

from contrastive_core import options
from contrastive_core.errors import NonFiniteError, check_finite, check_index, check_positive

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_options_import_without_mlx():
    # Setting sys.modules["mlx"] to None makes any import of mlx fail, as where MLX is missing.
    script = (
        "import sys; sys.modules['mlx'] = None; sys.modules['mlx.core'] = None\n"
        "import contrastive_core, contrastive_core.options as o\n"
        "print(o.DEFAULT_COLORMAP)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY_ROOT, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "jet"


def test_options_values():
    assert options.DEFAULT_EXPONENT == 2.0
    assert options.DEFAULT_TEMPERATURE == 0.1
    assert options.SHARPEN_MODES == ("spatial", "consensus")
    assert options.UPSAMPLE_METHODS == ("bilinear", "nearest")
    assert options.DEFAULT_COLORMAP in options.COLORMAPS
    assert 0.0 <= options.DEFAULT_ALPHA <= 1.0
    assert options.PATCH_SIZE == 16


def test_check_finite_accepts_finite():
    check_finite(mx.array([0.0, -1.0, 3e38]), "test stage")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_check_finite_names_stage(bad):
    with pytest.raises(NonFiniteError, match="NaN or infinity in test stage"):
        check_finite(mx.array([1.0, bad]), "test stage")


def test_non_finite_error_is_value_error():
    assert issubclass(NonFiniteError, ValueError)


def test_check_index_errors():
    assert check_index("target", 2, 3) == 2
    with pytest.raises(ValueError, match=r"target must be in \[0, 2\], got 3"):
        check_index("target", 3, 3)
    with pytest.raises(ValueError, match=r"target must be in \[0, 2\], got -1"):
        check_index("target", -1, 3)
    with pytest.raises(ValueError, match="target must be an integer"):
        check_index("target", True, 3)
    with pytest.raises(ValueError, match="target must be an integer"):
        check_index("target", 1.0, 3)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "2", None])
def test_check_positive_errors(bad):
    with pytest.raises(ValueError, match="exponent must be a finite number greater than 0"):
        check_positive("exponent", bad)
