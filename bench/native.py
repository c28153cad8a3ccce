"""Time and memory of the native capture on a random-weight ComfyUI FLUX.1, beside plain sampling.

Two variants run on the same weights, alternating, in one process, through ComfyUI's own sampler
(``comfy.sample.sample``, euler, cfg 1):
  (a) plain sampling, as KSampler does;
  (b) the same sampling on a MODEL clone carrying the capture hooks, 3 concepts of 2 tokens each.
The transformer is built from ComfyUI's ``Flux`` class with random weights: FLUX.1's width and
heads are kept (3072, 24), with fewer blocks, so that a run fits a 2-core CPU. Memory is the
process's peak resident size above the size before the run (Linux's VmHWM, reset before each
run through /proc/self/clear_refs). Each row is the median over --repeats runs; read the ratios.

Run: .venv/bin/python bench/native.py (see bench/README.md for the environment)
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COMFYUI_DIR = REPOSITORY_ROOT / ".cache" / "comfyui-0.30.0" / "ComfyUI"
PACK_NAME = "contrastive_attention_pack"
CONCEPT_TOKENS = (2, 2, 2)
TEXT_TOKENS = 256  # FLUX.1 schnell's T5 length
TEXT_WIDTH = 4096
POOLED_WIDTH = 768


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comfyui-dir", type=Path, default=DEFAULT_COMFYUI_DIR, help="ComfyUI checkout to import (default: the 0.30.0 one in .cache).")
    parser.add_argument("--size", type=int, default=512, help="image width and height in pixels (default 512)")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps (default 4)")
    parser.add_argument("--double-blocks", type=int, default=2, help="double blocks of the random model (default 2)")
    parser.add_argument("--single-blocks", type=int, default=2, help="single blocks of the random model (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant (default 3)")
    return parser.parse_args()


def import_comfyui(comfyui_dir: Path):
    sys.path.insert(0, str(comfyui_dir))
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPOSITORY_ROOT / "__init__.py", submodule_search_locations=[str(REPOSITORY_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)


def build_model(arguments: argparse.Namespace):
    import comfy.ldm.flux.model
    import comfy.ops
    import comfy.sd
    import torch

    generator = torch.Generator().manual_seed(0)
    template = comfy.ldm.flux.model.Flux(
        image_model="flux", in_channels=16, out_channels=16, vec_in_dim=POOLED_WIDTH, context_in_dim=TEXT_WIDTH,
        hidden_size=3072, mlp_ratio=4.0, num_heads=24, depth=arguments.double_blocks,
        depth_single_blocks=arguments.single_blocks, axes_dim=[16, 56, 56], theta=10000, patch_size=2,
        qkv_bias=True, guidance_embed=False, txt_ids_dims=[], device="meta", operations=comfy.ops.disable_weight_init,
    ).state_dict()
    weights = {}
    for name, tensor in template.items():
        if tensor.ndim == 1:
            weights[name] = torch.ones(tensor.shape) if "norm" in name else torch.randn(tensor.shape, generator=generator) * 0.02
        else:
            weights[name] = torch.randn(tensor.shape, generator=generator) / tensor.shape[-1] ** 0.5
    return comfy.sd.load_diffusion_model_state_dict(weights)


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def current_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


def measure(function) -> tuple[float, int]:
    """Return the seconds and the peak resident bytes above the start of one call."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    baseline = current_rss_bytes()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started, peak_rss_bytes() - baseline


def main() -> None:
    arguments = parse_arguments()
    import_comfyui(arguments.comfyui_dir)
    import comfy.sample
    import torch

    from contrastive_attention_pack.native_backend.capture import ConceptCapture
    from contrastive_attention_pack.native_backend.concept_text import EncodedConcepts

    torch.set_grad_enabled(False)
    model = build_model(arguments)
    generator = torch.Generator().manual_seed(1)
    positive = [[torch.randn(1, TEXT_TOKENS, TEXT_WIDTH, generator=generator), {"pooled_output": torch.randn(1, POOLED_WIDTH, generator=generator)}]]
    latent = torch.zeros(1, 16, arguments.size // 8, arguments.size // 8)
    noise = comfy.sample.prepare_noise(latent, 1)
    spans, start = [], 0
    for count in CONCEPT_TOKENS:
        spans.append((start, start + count))
        start += count
    concepts = EncodedConcepts(torch.randn(1, start, TEXT_WIDTH, generator=generator), tuple(spans))
    layers = (arguments.double_blocks - 1,)
    steps = tuple(range(arguments.steps))

    def sample(patched) -> torch.Tensor:
        return comfy.sample.sample(
            patched, noise, arguments.steps, 1.0, "euler", "simple", positive, positive, latent, seed=1, disable_pbar=True
        )

    def plain() -> None:
        sample(model)

    def captured() -> None:
        capture = ConceptCapture(model.model.diffusion_model, concepts, layers, steps, tuple(latent.shape[-2:]), 1)
        sample(capture.patch(model))
        capture.layer_step_scores()

    print("Native capture on a random-weight ComfyUI FLUX.1: plain sampling (a) against the capture (b)")
    print(f"machine: {platform.machine()} {platform.system()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"model: width 3072, 24 heads, {arguments.double_blocks} double and {arguments.single_blocks} single "
        f"blocks; {arguments.size}x{arguments.size} px, {arguments.steps} euler steps, layer {layers[0]}, all steps, "
        f"{len(CONCEPT_TOKENS)} concepts; median of {arguments.repeats} after 1 warm-up run"
    )
    plain()
    captured()
    results = {"a plain": [], "b capture": []}
    for _ in range(arguments.repeats):
        results["a plain"].append(measure(plain))
        results["b capture"].append(measure(captured))
    print(f"{'variant':<12} {'seconds':>8} {'peak MiB':>9}")
    medians = {}
    for name, runs in results.items():
        seconds = statistics.median(run[0] for run in runs)
        peak = statistics.median(run[1] for run in runs) / 2**20
        medians[name] = (seconds, peak)
        print(f"{name:<12} {seconds:>8.2f} {peak:>9.1f}")
    (plain_seconds, plain_peak), (capture_seconds, capture_peak) = medians["a plain"], medians["b capture"]
    print(f"time b/a = {capture_seconds / plain_seconds:.3f}; extra peak of b over a = {capture_peak - plain_peak:.1f} MiB")


if __name__ == "__main__":
    main()
