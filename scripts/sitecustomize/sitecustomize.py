"""Let PyPI's torchvision wheel import next to CPU torch in the test environment.

The torchvision wheels on PyPI carry a compiled extension built for CUDA torch. Next to CPU torch
the extension fails to load, so the ``torchvision::nms`` and ``torchvision::qnms`` operators are
never defined, and ``import torchvision`` fails in ``torchvision/_meta_registrations.py``, which
registers fake kernels for them ("operator torchvision::nms does not exist").

Just before torchvision is first imported, this module tries to load the extension itself. Only
when that fails does it define the two operator schemas, without kernels: ``torchvision.ops.nms``
then raises torchvision's own "Couldn't load custom C++ ops" error, and the rest of torchvision
works. Python imports this module at start-up when its folder is on PYTHONPATH (scripts/test.sh
and the test server set that). It imports torch only once something imports torchvision.
"""

import importlib.abc
import importlib.util
import os
import sys

# Argument names follow torchvision.ops.boxes.nms (torchvision 0.28.0).
_TORCHVISION_OPERATOR_SCHEMAS = {
    "nms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}


def _torchvision_extension_loads(package_dirs: list[str]) -> bool:
    import torch

    for package_dir in package_dirs:
        for file_name in os.listdir(package_dir):
            if file_name.startswith("_C.") and file_name.endswith((".so", ".pyd")):
                try:
                    torch.ops.load_library(os.path.join(package_dir, file_name))
                except (ImportError, OSError):
                    return False
                return True
    return False


def _define_torchvision_operator_schemas() -> None:
    import torch

    for name, schema in _TORCHVISION_OPERATOR_SCHEMAS.items():
        torch.library.define(f"torchvision::{name}", schema)


class _TorchvisionOperatorFinder(importlib.abc.MetaPathFinder):
    """Import hook that prepares the torchvision operators on the first import of torchvision."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "torchvision":
            return None

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torchvision")
        if spec is not None and spec.submodule_search_locations:
            if not _torchvision_extension_loads(list(spec.submodule_search_locations)):
                _define_torchvision_operator_schemas()

        # Let the regular finders import torchvision itself.
        return None


sys.meta_path.insert(0, _TorchvisionOperatorFinder())
