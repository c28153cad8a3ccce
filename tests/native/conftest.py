"""Import ComfyUI in-process for the tests of the native FLUX backend, and load the tiny-model fixture pack.

ComfyUI is found and this repository's pack loaded by tests/nodes/conftest.py, which this file
imports so both test folders use one ComfyUI: COMFYUI_DIR, else the folder scripts/setup_env.sh
fills. Its collection hook skips these tests when ComfyUI is missing, except under CI, where that
is an error. ComfyUI then runs on the CPU.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

NODE_TESTS_CONFTEST = Path(__file__).resolve().parents[1] / "nodes" / "conftest.py"
FIXTURE_PACK_DIR = Path(__file__).resolve().parent / "fixture_pack"


def _load_node_test_setup() -> ModuleType:
    name = "contrastive_attention_node_test_setup"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, NODE_TESTS_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_fixture_pack() -> ModuleType:
    """Import fixture_pack as ComfyUI imports a custom node folder: by path, named after that path."""
    name = str(FIXTURE_PACK_DIR).replace(".", "_x_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FIXTURE_PACK_DIR / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_node_test_setup = _load_node_test_setup()
COMFYUI_DIR = _node_test_setup.COMFYUI_DIR
pytest_pycollect_makemodule = _node_test_setup.pytest_pycollect_makemodule

if COMFYUI_DIR is not None:
    import comfy.cli_args

    # comfy.model_management picks its device when first imported. Unless the CPU is chosen first,
    # it asks CUDA, which raises on CPU-only torch.
    comfy.cli_args.args.cpu = True


@pytest.fixture(scope="session")
def fixture_pack() -> ModuleType:
    """Return the fixture pack module, imported the way ComfyUI imports custom nodes."""
    return load_fixture_pack()


@pytest.fixture(scope="session")
def tiny_models(fixture_pack: ModuleType) -> ModuleType:
    """Return the fixture pack's tiny_models module (tiny random FLUX, SD3 and text encoder)."""
    return sys.modules[f"{fixture_pack.__name__}.tiny_models"]
