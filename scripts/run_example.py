"""Run the example workflows in a headless ComfyUI and copy the PNGs they save into a folder.

By default the generation workflow uses the pack's random-weight test model, and the workflow on
ComfyUI's own FLUX loaders uses tiny random-weight files written for this run, so both run on any
machine without FLUX weights, and their pictures are noise. With ``--model schnell`` (or dev) on an
Apple Silicon Mac with the weights in the Hugging Face cache or ``--local-path``, the mflux workflow
runs real FLUX, and the workflow on ComfyUI's loaders is skipped: run it in your own ComfyUI, where
its model files are.
"""

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.integration.comfy_server import ComfyClient, ComfyServerProcess  # noqa: E402
from tests.integration.example_inputs import write_example_inputs  # noqa: E402
from tests.integration.tiny_native import use_tiny_models, uses_comfy_flux_loaders, write_tiny_models  # noqa: E402

logger = logging.getLogger("run_example")

WORKFLOW_DIR = REPO_ROOT / "example_workflows"
TEST_MODEL = "random test model"
WORKFLOW_TIMEOUT_SECONDS = 3600.0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comfyui-dir", type=Path, required=True, help="ComfyUI checkout whose main.py is started.")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "output", help="Folder for the PNGs (default: output/).")
    parser.add_argument("--model", default=TEST_MODEL, help=f"Loader model: '{TEST_MODEL}' (default), schnell or dev.")
    parser.add_argument("--local-path", default="", help="Folder with FLUX weights for schnell or dev (default: the Hugging Face cache).")
    parser.add_argument("--size", type=int, default=None, help="Generation width and height in pixels (default: 256 for the test model, the workflow's 1024 otherwise).")
    parser.add_argument("--steps", type=int, default=None, help="Denoising steps (default: the workflow's 4).")
    return parser.parse_args()


def configure_generation(prompt: dict, arguments: argparse.Namespace) -> None:
    """Apply the command-line model, size and steps to the loader and generation nodes of a prompt."""
    size = arguments.size or (256 if arguments.model == TEST_MODEL else None)
    for node in prompt.values():
        if node["class_type"] == "ContrastiveAttention_MfluxLoader":
            node["inputs"].update(model=arguments.model, local_path=arguments.local_path)
        if node["class_type"] == "ContrastiveAttention_Generate":
            if size:
                node["inputs"].update(width=size, height=size)
            if arguments.steps:
                node["inputs"]["steps"] = arguments.steps
            if arguments.model == TEST_MODEL:
                node["inputs"]["layers"] = "all"  # the test model has only 2 joint blocks


def run_workflow(client: ComfyClient, workflow_path: Path, arguments: argparse.Namespace) -> list[Path]:
    """Convert one UI-format workflow, run it, and copy its saved PNGs into the output folder."""
    prompt = client.convert_workflow(json.loads(workflow_path.read_text()))
    if uses_comfy_flux_loaders(prompt):
        if arguments.model != TEST_MODEL:
            logger.info("skipping %s: it loads FLUX with ComfyUI's own loaders; run it in your ComfyUI", workflow_path.name)
            return []
        write_tiny_models(client.models_dir, arguments.comfyui_dir.resolve())
        use_tiny_models(prompt)
    configure_generation(prompt, arguments)
    logger.info("running %s", workflow_path.name)
    result = client.run(prompt, timeout=WORKFLOW_TIMEOUT_SECONDS)
    if not result.succeeded:
        raise RuntimeError(f"{workflow_path.name} failed: {result.error or result.interruption}")

    copied = []
    for path in client.image_paths(result):
        target = arguments.output / workflow_path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(target)
    return copied


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = parse_arguments()
    if arguments.model == TEST_MODEL:
        logger.info("Using random-weight test models: the generated pictures and heatmaps are noise.")

    with tempfile.TemporaryDirectory(prefix="cca-example-") as base_dir:
        server = ComfyServerProcess(arguments.comfyui_dir.resolve(), Path(base_dir))
        try:
            server.start()
            server.wait_until_ready()
            client = ComfyClient(server)
            write_example_inputs(client.input_dir)
            saved = [path for workflow in sorted(WORKFLOW_DIR.glob("*.json")) for path in run_workflow(client, workflow, arguments)]
        finally:
            server.stop()

    for path in saved:
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
