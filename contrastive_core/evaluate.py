"""Evaluate heatmap quality on a segmentation data set: ``python -m contrastive_core.evaluate --help``.

For each image and each class in it, the from-image capture runs once. Every variant is scored
against the class mask from that one capture: the standard competition map, the plain map, the
contrast, and the contrast with spectral sharpening at the given exponents, modes and temperatures.
"""

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from .evaluation.dataset import VOC_CLASS_NAMES, iterate_targets, pair_samples, voc_samples
from .evaluation.report import format_table, read_rows, summarize, write_contact_sheet, write_summaries
from .evaluation.runner import CaptureSettings, run_evaluation
from .evaluation.scoring import score_target
from .evaluation.variants import VariantSettings, variant_names
from .mflux_backend.model_loading import LoadSettings, load_flux_model
from .mflux_backend.variants import TEST_MODEL_VARIANT

logger = logging.getLogger("contrastive_core.evaluate")


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(value) for value in text.split(",") if value.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(value.strip() for value in text.split(",") if value.strip())


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m contrastive_core.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--voc-root", type=Path, help="PascalVOC folder with JPEGImages/, SegmentationClass/ and ImageSets/Segmentation/")
    data.add_argument("--pairs", type=Path, help="CSV file of 'image,mask' paths (relative to the file); masks hold class indices, 255 = void")
    parser.add_argument("--image-list", type=Path, help="image names, one per line (default: ImageSets/Segmentation/val.txt)")
    parser.add_argument("--output", type=Path, required=True, help="results folder; a run into the same folder resumes")
    parser.add_argument("--model", default="schnell", help=f"schnell, dev, or '{TEST_MODEL_VARIANT}' (needs CONTRASTIVE_ATTENTION_TEST_MODEL=1)")
    parser.add_argument("--local-path", default="", help="folder with FLUX weights (default: the Hugging Face cache)")
    parser.add_argument("--quantize", type=int, choices=(4, 8), help="quantize the weights on load")
    parser.add_argument("--class-names", type=_names, default=VOC_CLASS_NAMES, help="comma-separated class names by label index (default: the 21 VOC classes)")
    parser.add_argument("--anti-concepts", type=_names, default=("background",), help="comma-separated anti-concepts (default: background)")
    parser.add_argument("--prompt", default="a photo of a {concept}", help="prompt template; {concept} is replaced")
    parser.add_argument("--exponents", type=_numbers, default=(2.0,), help="sharpening exponents, comma-separated (default: 2)")
    parser.add_argument("--modes", type=_names, default=("spatial", "consensus"), help="sharpening modes (default: spatial,consensus)")
    parser.add_argument("--temperatures", type=_numbers, default=(0.1,), help="softmax temperatures (default: 0.1)")
    parser.add_argument("--steps", type=int, default=4, help="schedule length (default: 4)")
    parser.add_argument("--noise-strength", type=float, default=0.5, help="noise added before the analysis steps, 0-1 (default: 0.5)")
    parser.add_argument("--layers", default="last 4", help="joint blocks to read (default: 'last 4')")
    parser.add_argument("--steps-to-average", default="all", help="analysis steps to average (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default: 0)")
    parser.add_argument("--max-side", type=int, default=0, help="analyse images shrunk to this longer side in pixels (default: full size)")
    parser.add_argument("--single-class", action="store_true", help="only images with exactly one foreground class (PascalVOC single-class)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (default: all)")
    parser.add_argument("--calibration-fraction", type=float, default=0.2, help="share of targets that choose the calibrated threshold (default: 0.2)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the 95%% intervals (default: 2000)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = parse_arguments(argv)
    samples = voc_samples(arguments.voc_root, arguments.image_list) if arguments.voc_root else pair_samples(arguments.pairs)
    if arguments.limit:
        samples = samples[: arguments.limit]
    settings = CaptureSettings(
        model=arguments.model,
        anti_concepts=arguments.anti_concepts,
        prompt_template=arguments.prompt,
        steps=arguments.steps,
        noise_strength=arguments.noise_strength,
        layers=arguments.layers,
        steps_to_average=arguments.steps_to_average,
        seed=arguments.seed,
        max_side=arguments.max_side,
        single_class=arguments.single_class,
        class_names=arguments.class_names,
        variants=VariantSettings(exponents=arguments.exponents, modes=arguments.modes, temperatures=arguments.temperatures),
    )

    model = load_flux_model(LoadSettings(variant=arguments.model, model_path=arguments.local_path, quantize=arguments.quantize))
    target_count = sum(1 for _ in iterate_targets(samples, settings.single_class))
    with tqdm(total=target_count, desc="images x classes", unit="target") as progress:
        run_evaluation(model, samples, settings, arguments.output, score_target, on_target=lambda done: progress.update(done - progress.n))

    rows = read_rows(arguments.output)
    summaries = summarize(rows, arguments.calibration_fraction, arguments.resamples)
    write_summaries(summaries, arguments.output)
    names = variant_names(settings.variants)
    primary = next((name for name in names if "spatial" in name), names[2])
    sheet = write_contact_sheet(rows, {sample.name: sample for sample in samples}, settings.variants, primary, arguments.output)

    if arguments.model == TEST_MODEL_VARIANT:
        print("NOTE: random-weight test model: these numbers are meaningless; they only show that the pipeline runs.")
    print(f"{len(rows) // len(names)} targets (image x class); mean [95% bootstrap interval]")
    print(format_table(summaries))
    print(f"wrote {arguments.output / 'summary.csv'}, summary.json, per_image.jsonl, {sheet.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
