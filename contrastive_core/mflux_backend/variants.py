"""Model choices offered by the loader; imports neither MLX nor mflux, so schemas can use it anywhere."""

import os

FLUX_VARIANTS = ("schnell", "dev")
QUANTIZE_BITS = (4, 8)
TEST_MODEL_VARIANT = "random test model"
TEST_MODEL_ENVIRONMENT_VARIABLE = "CONTRASTIVE_ATTENTION_TEST_MODEL"


def test_model_enabled() -> bool:
    """Return whether the random-weight test model may be offered (the environment variable is set to 1)."""
    return os.environ.get(TEST_MODEL_ENVIRONMENT_VARIABLE, "") == "1"


def available_variants() -> tuple[str, ...]:
    """Return the variants a user may load: the test model only where the environment enables it."""
    return (*FLUX_VARIANTS, TEST_MODEL_VARIANT) if test_model_enabled() else FLUX_VARIANTS
