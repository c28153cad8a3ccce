"""Time and memory of concept capture on a random-weight FLUX, side by side with mflux's own.

Three variants run on the same weights, alternating, in one process:
  (a) plain generation: mflux's transformer, no concept attention;
  (b) mflux's stock concept generation: its TransformerConcept with the concept padded to the T5
      length, every layer's attention outputs kept for every step, then ConceptUtil's heatmap;
  (c) ours: denoise_with_concepts with 3 concepts of real tokens only.
The VAE decode is the same for all three and left out, so that its peak does not hide the
capture's. Each row is the median over --repeats runs. CPU figures vary with the machine: read the
ratios.

Run: LD_PRELOAD=<Debian's openblas-pthread libopenblas.so.0> .venv/bin/python bench/capture.py
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import mlx.core as mx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mflux.models.common.config.config import Config  # noqa: E402
from mflux.models.flux.latent_creator.flux_latent_creator import FluxLatentCreator  # noqa: E402
from mflux.models.flux.variants.concept_attention.attention_data import GenerationAttentionData  # noqa: E402
from mflux.models.flux.variants.concept_attention.concept_util import ConceptUtil  # noqa: E402
from mflux.models.flux.variants.concept_attention.transformer_concept import TransformerConcept  # noqa: E402

from contrastive_core.mflux_backend.generation import GenerationRequest, denoise_with_concepts  # noqa: E402
from contrastive_core.mflux_backend.random_model import build_random_flux  # noqa: E402

STOCK_CONCEPT_TOKENS = 256  # mflux pads the concept prompt to FLUX.1-schnell's T5 length
PROMPT = "a dragon breathing fire on a mountain"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="image width and height in pixels (default 512)")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps (default 8)")
    parser.add_argument("--joint-blocks", type=int, default=1, help="joint blocks of the random model (default 1)")
    parser.add_argument("--single-blocks", type=int, default=1, help="single blocks of the random model (default 1)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant (default 2)")
    return parser.parse_args()


def make_config(model, arguments) -> Config:
    return Config(model_config=model.model_config, num_inference_steps=arguments.steps, height=arguments.size, width=arguments.size, guidance=3.5)


def run_plain(model, arguments) -> None:
    config = make_config(model, arguments)
    prompt_embeds, pooled = model.text_encoder.encode_prompt(PROMPT)
    latents = FluxLatentCreator.create_noise(seed=1, height=arguments.size, width=arguments.size)
    for step in range(arguments.steps):
        noise = model.transformer(t=step, config=config, hidden_states=latents, prompt_embeds=prompt_embeds, pooled_prompt_embeds=pooled)
        latents = config.scheduler.step(noise=noise, timestep=step, latents=latents)
        mx.eval(latents)


def run_stock(model, stock_transformer, arguments) -> None:
    config = make_config(model, arguments)
    prompt_embeds, pooled = model.text_encoder.encode_prompt(PROMPT)
    concept = model.text_encoder.encode_concept("dragon")
    padding = mx.zeros((1, STOCK_CONCEPT_TOKENS - concept.shape[1], concept.shape[2]))
    concept_embeds = mx.concatenate([concept, padding], axis=1)  # [1, 256, 4096], as mflux pads it
    latents = FluxLatentCreator.create_noise(seed=1, height=arguments.size, width=arguments.size)
    attention_data = GenerationAttentionData()
    for step in range(arguments.steps):
        noise, attention = stock_transformer(
            t=step, config=config, hidden_states=latents, prompt_embeds=prompt_embeds,
            prompt_embeds_concept=concept_embeds, pooled_prompt_embeds=pooled, pooled_prompt_embeds_concept=pooled,
        )
        attention_data.append(attention)
        latents = config.scheduler.step(noise=noise, timestep=step, latents=latents)
        mx.eval(latents)  # as mflux does: only the latents, the attention stays pending
    ConceptUtil.create_heatmap(
        concept="dragon", attention_data=attention_data, height=arguments.size, width=arguments.size,
        layer_indices=list(range(arguments.joint_blocks)), timesteps=list(range(arguments.steps)),
    )


def run_ours(model, arguments) -> None:
    request = GenerationRequest(
        prompt=PROMPT, target="dragon", anti_concepts=("background",), extra_concepts=("mountain",),
        seed=1, width=arguments.size, height=arguments.size, steps=arguments.steps, layers="all",
    )
    latents, heatmap = denoise_with_concepts(model, request)
    mx.eval(latents, heatmap.layer_step_scores)


def measure(run) -> tuple[float, float]:
    """Return wall seconds and the peak memory above the memory already in use (GiB)."""
    mx.clear_cache()
    baseline = mx.get_active_memory()
    mx.reset_peak_memory()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, (mx.get_peak_memory() - baseline) / 2**30


def main() -> None:
    arguments = parse_arguments()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, MLX {mx.__version__}, default device {mx.default_device()}")
    print(f"random-weight FLUX: {arguments.joint_blocks} joint + {arguments.single_blocks} single blocks, float32, "
          f"{arguments.size}x{arguments.size}, {arguments.steps} steps, median of {arguments.repeats}; read ratios, not seconds")
    model = build_random_flux(arguments.joint_blocks, arguments.single_blocks)
    stock_transformer = TransformerConcept(model.model_config, arguments.joint_blocks, arguments.single_blocks)
    stock_transformer.update(model.transformer.parameters())
    variants = {
        "a plain": lambda: run_plain(model, arguments),
        "b mflux concept": lambda: run_stock(model, stock_transformer, arguments),
        "c ours, 3 concepts": lambda: run_ours(model, arguments),
    }
    samples = {name: [] for name in variants}
    for _ in range(arguments.repeats):
        for name, run in variants.items():
            samples[name].append(measure(run))

    medians = {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs)) for name, runs in samples.items()}
    print(f"{'variant':<20}{'seconds':>10}{'extra peak GiB':>16}")
    for name, (seconds, peak) in medians.items():
        print(f"{name:<20}{seconds:>10.2f}{peak:>16.3f}")
    (plain_time, plain_peak), (stock_time, stock_peak), (ours_time, ours_peak) = medians.values()
    print(f"time c/a = {ours_time / plain_time:.3f} (target <= 1.15); time c/b = {ours_time / stock_time:.3f}")
    stock_extra, ours_extra = stock_peak - plain_peak, ours_peak - plain_peak
    print(f"extra peak over a: b {stock_extra:.3f} GiB, c {ours_extra:.3f} GiB; "
          f"c/b = {ours_extra / stock_extra if stock_extra > 0 else float('nan'):.3f} (target <= 0.1)")


if __name__ == "__main__":
    main()
