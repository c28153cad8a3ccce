"""Loading FLUX through mflux, and the one-model cache shared by all runs."""

import gc
import logging
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from .flux_model import FluxModel
from .text_encoding import MfluxTextEncoder
from .variants import QUANTIZE_BITS, TEST_MODEL_VARIANT, available_variants

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadSettings:
    """Everything that decides which model is loaded; a change of any field reloads."""

    variant: str
    model_path: str = ""
    quantize: int | None = None
    lora_paths: tuple[str, ...] = ()
    lora_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        allowed = available_variants()
        if self.variant not in allowed:
            raise ValueError(f"model {self.variant!r} is not available: choose one of {', '.join(allowed)}.")
        if self.quantize is not None and self.quantize not in QUANTIZE_BITS:
            raise ValueError(f"quantize must be none, 4 or 8, got {self.quantize!r}.")
        if len(self.lora_paths) != len(self.lora_scales):
            raise ValueError(f"{len(self.lora_paths)} LoRA paths but {len(self.lora_scales)} scales.")
        if self.model_path and not Path(self.model_path).expanduser().is_dir():
            raise ValueError(
                f"local_path {self.model_path!r} is not a folder: give a diffusers-layout FLUX folder or "
                "an mflux-save output, or leave it empty to use the Hugging Face cache."
            )
        for lora in self.lora_paths:
            if not Path(lora).expanduser().is_file():
                raise ValueError(f"LoRA file {lora!r} not found.")


def parse_lora_lines(text: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Parse one LoRA per line, "path" or "path:scale" (scale 1.0 when left out)."""
    paths, scales = [], []
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        path, separator, scale = line.rpartition(":")
        if not separator or not _is_number(scale):
            path, scale = line, "1.0"
        paths.append(path.strip())
        scales.append(float(scale))
    return tuple(paths), tuple(scales)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_flux_model(settings: LoadSettings) -> FluxModel:
    """Load FLUX.1 schnell or dev through mflux (weights from local_path or the Hugging Face cache)."""
    if settings.variant == TEST_MODEL_VARIANT:
        from .random_model import build_random_flux

        return build_random_flux()

    from mflux.models.common.config.model_config import ModelConfig
    from mflux.models.flux.variants.txt2img.flux import Flux1

    # mflux 0.13 takes every argument passed here. bake_lora, which 0.20 has and 0.17 lacks, keeps its default.
    try:
        flux = Flux1(
            quantize=settings.quantize,
            model_path=str(Path(settings.model_path).expanduser()) if settings.model_path else None,
            lora_paths=list(settings.lora_paths) or None,
            lora_scales=list(settings.lora_scales) or None,
            model_config=ModelConfig.from_name(settings.variant),
        )
    except OSError as error:
        source = settings.model_path or f"the Hugging Face cache (FLUX.1-{settings.variant})"
        raise RuntimeError(
            f"Could not load FLUX.1-{settings.variant} from {source}: {str(error).rstrip('.')}. Download the weights once "
            "(e.g. with `mflux-generate --model schnell ...` while online) or point local_path at a "
            "diffusers-layout folder; single-file .safetensors checkpoints are not supported by mflux."
        ) from error
    return FluxModel(
        transformer=flux.transformer,
        vae=flux.vae,
        text_encoder=MfluxTextEncoder(flux),
        model_config=flux.model_config,
        description=f"FLUX.1-{settings.variant}" + (f" ({settings.quantize}-bit)" if settings.quantize else ""),
    )


class ModelCache:
    """Keeps the last loaded model; loading other settings frees it first."""

    def __init__(self) -> None:
        self._settings: LoadSettings | None = None
        self._model: FluxModel | None = None

    def get(self, settings: LoadSettings) -> FluxModel:
        """Return the model for ``settings``, loading it only when the settings changed."""
        if self._model is not None and self._settings == settings:
            return self._model
        self.clear()
        logger.info("Loading %s", settings)
        self._model = load_flux_model(settings)
        self._settings = settings
        return self._model

    def clear(self) -> None:
        """Drop the cached model and return its memory to the system."""
        self._model = None
        self._settings = None
        gc.collect()
        mx.clear_cache()


MODEL_CACHE = ModelCache()
