"""Hook ComfyUI's FLUX.1 through its stable extension points and collect concept scores per step.

Three hooks are installed on a clone of the MODEL, so the user's MODEL is never changed:

- a diffusion-model wrapper that decides, per model call, whether the call is captured. Only calls
  whose sigma lies in a selected step's interval of the schedule are, and only the rows of the
  first conditional chunk (``cond_or_uncond``), so the unconditional half of a CFG batch is never
  scored. Several calls in one step (heun, dpm_2) are averaged;
- a ``("dit", "double_block", i)`` replacement for blocks 0 to the last selected one, which runs the
  original block unchanged and then the concept stream beside it;
- ``attn1_patch`` and ``attn1_output_patch``, which hand over the block's own image keys, values and
  attention output while that block runs, so nothing of the image stream is computed twice.

The patches return what they receive, so the sampled latent is bit-identical to sampling without
them. What is kept per selected (layer, step) is a [B, K, P] score array, never the hidden states.
"""

from dataclasses import dataclass, field
from functools import partial

import torch

from .concept_block import concept_block, rotate
from .concept_text import EncodedConcepts

WRAPPER_KEY = "contrastive_concept_attention"
CONDITIONAL = 0  # the value that marks a conditional chunk in transformer_options["cond_or_uncond"]
SIGMA_RELATIVE_TOLERANCE = 1e-6  # rounding of a sigma at the top of its interval


@dataclass
class _CallState:
    """State of one captured model call, passed from block to block."""

    step: int
    rows: slice
    text_count: int | None
    patch_count: int
    concepts: torch.Tensor  # [B, C, D], the concept stream
    concept_vec: torch.Tensor  # [B, D], modulation of the concept stream
    concept_positions: torch.Tensor  # rotary embedding of the concept tokens
    grabbed: dict = field(default_factory=dict)
    capturing_block: int | None = None


def step_of(transformer_options: dict) -> int | None:
    """Return the step whose sigma interval (next sigma, sigma] contains the current sigma, else None.

    Most samplers evaluate the model at each step's own sigma. Others evaluate in between (dpm_2's
    midpoints, dpm_fast's own sigmas) or start slightly below the first sigma (ComfyUI moves it by
    about 1e-4 for SDE samplers on flow models), and those evaluations count toward the step whose
    interval contains them.
    """
    sigmas = transformer_options.get("sigmas")
    schedule = transformer_options.get("sample_sigmas")
    if sigmas is None or schedule is None or len(schedule) < 2:
        return None
    current = sigmas.flatten()[0].cpu().double()  # MPS has no float64, so convert on the CPU
    schedule = schedule.cpu().double()
    starts, ends = schedule[:-1], schedule[1:]
    inside = (current <= starts * (1 + SIGMA_RELATIVE_TOLERANCE)) & (current > ends)
    matches = torch.nonzero(inside).flatten()
    return int(matches[0]) if len(matches) else None


class ConceptCapture:
    """Concept scores of one sampling run on ComfyUI's FLUX.1 (see the module docstring)."""

    def __init__(
        self,
        transformer,
        concepts: EncodedConcepts,
        layers: tuple[int, ...],
        steps: tuple[int, ...],
        latent_size: tuple[int, int],
        batch_size: int,
    ) -> None:
        self.transformer = transformer
        self.concepts = concepts
        self.layers = tuple(layers)
        self.steps = tuple(steps)
        self.latent_size = tuple(latent_size)
        self.batch_size = batch_size
        patch = transformer.patch_size
        self.grid_size = tuple((side + patch // 2) // patch for side in latent_size)
        pooling = torch.zeros(len(concepts.spans), concepts.embeddings.shape[1])
        for index, (start, end) in enumerate(concepts.spans):
            pooling[index, start:end] = 1.0 / (end - start)
        self._pooling = pooling  # [K, C]: row k averages the tokens of concept k
        self._sums: dict[tuple[int, int], torch.Tensor] = {}
        self._counts: dict[tuple[int, int], int] = {}
        self._call: _CallState | None = None

    def patch(self, model):
        """Return a clone of the ComfyUI MODEL with the capture hooks installed."""
        import comfy.patcher_extension

        patched = model.clone()
        patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY, self._wrap_call)
        for index in range(max(self.layers) + 1):
            patched.set_model_patch_replace(partial(self._run_block, index), "dit", "double_block", index)
        patched.set_model_attn1_patch(self._grab_inputs)
        patched.set_model_attn1_output_patch(self._grab_output)
        return patched

    # --- per model call ---------------------------------------------------------------------------

    def _wrap_call(self, executor, *args, **kwargs):
        self._call = self._begin_call(*args, **kwargs)
        try:
            return executor(*args, **kwargs)
        finally:
            self._call = None

    def _begin_call(self, x, timestep, context, y=None, guidance=None, *rest, **kwargs) -> _CallState | None:
        options = kwargs.get("transformer_options", rest[2] if len(rest) > 2 else {}) or {}
        step = step_of(options)
        if step is None or step not in self.steps or tuple(x.shape[-2:]) != self.latent_size:
            return None
        chunks = list(options.get("cond_or_uncond") or [CONDITIONAL])
        if CONDITIONAL not in chunks or x.shape[0] % len(chunks):
            return None
        chunk_rows = x.shape[0] // len(chunks)
        if chunk_rows != self.batch_size:
            return None
        first = chunks.index(CONDITIONAL) * chunk_rows
        rows = slice(first, first + chunk_rows)
        return self._prepare_concepts(x, timestep, guidance, rows, step)

    @torch.no_grad()
    def _prepare_concepts(self, x, timestep, guidance, rows: slice, step: int) -> _CallState:
        from comfy.ldm.flux.layers import timestep_embedding

        model = self.transformer
        dtype, device = x.dtype, x.device
        batch = rows.stop - rows.start
        # The concept stream is modulated by a zero pooled text vector with this step's timestep and
        # guidance, as in the mflux backend and ConceptAttention: one vector serves every concept,
        # and a neutral one favours none of them.
        vec = model.time_in(timestep_embedding(timestep[rows], 256).to(dtype))
        if model.params.guidance_embed and guidance is not None:
            vec = vec + model.guidance_in(timestep_embedding(guidance[rows], 256).to(dtype))
        if model.vector_in is not None:
            vec = vec + model.vector_in(torch.zeros((batch, model.params.vec_in_dim), device=device, dtype=dtype))
        embeddings = self.concepts.embeddings.to(device=device, dtype=dtype)
        if model.txt_norm is not None:
            embeddings = model.txt_norm(embeddings)
        concepts = model.txt_in(embeddings).expand(batch, -1, -1).contiguous()
        # Text tokens sit at position 0 on every axis in FLUX.1; the concepts are placed there too.
        positions = model.pe_embedder(torch.zeros((1, concepts.shape[1], len(model.params.axes_dim)), device=device))
        return _CallState(
            step=step,
            rows=rows,
            text_count=None,
            patch_count=self.grid_size[0] * self.grid_size[1],
            concepts=concepts,
            concept_vec=vec,
            concept_positions=positions,
        )

    # --- per block -------------------------------------------------------------------------------

    def _run_block(self, index: int, args: dict, extra: dict) -> dict:
        call = self._call
        if call is None:
            return extra["original_block"](args)
        call.capturing_block = index
        call.grabbed = {}
        try:
            out = extra["original_block"](args)
        finally:
            call.capturing_block = None
        grabbed = call.grabbed
        call.grabbed = {}
        if "key" not in grabbed or "attention" not in grabbed:
            raise RuntimeError(
                f"double block {index} ran without the attention hooks firing: this ComfyUI release "
                "changed FLUX's block, so the native capture cannot read it. Report the ComfyUI version."
            )
        with torch.no_grad():
            call.concepts, concept_attention = concept_block(
                self.transformer.double_blocks[index],
                call.concepts,
                call.concept_vec,
                call.concept_positions,
                grabbed["key"],
                grabbed["value"],
            )
            if index in self.layers:
                self._add_scores(index, call.step, concept_attention, grabbed["attention"])
        return out

    def _grab_inputs(self, q, k, v, pe=None, attn_mask=None, extra_options=None):
        call = self._call
        if call is None or call.capturing_block is None:
            return {}
        text_count, _ = extra_options["img_slice"]
        image = slice(text_count, text_count + call.patch_count)
        positions = pe if pe.shape[0] == 1 else pe[call.rows]
        with torch.no_grad():
            call.grabbed["key"] = rotate(k[call.rows, :, image], positions[:, :, image])
            call.grabbed["value"] = v[call.rows, :, image].clone()
        call.text_count = text_count
        return {}

    def _grab_output(self, attention, extra_options):
        call = self._call
        if call is not None and call.capturing_block is not None and call.text_count is not None:
            image = slice(call.text_count, call.text_count + call.patch_count)
            call.grabbed["attention"] = attention[call.rows, image].float()
        return attention

    # --- scores ----------------------------------------------------------------------------------

    def _add_scores(self, layer: int, step: int, concept_attention: torch.Tensor, image_attention: torch.Tensor) -> None:
        pooling = self._pooling.to(concept_attention.device)
        pooled = pooling @ concept_attention.float()  # [B, K, D]: mean over each concept's tokens
        scores = pooled @ image_attention.transpose(1, 2)  # [B, K, P]: dot products over D
        key = (layer, step)
        self._sums[key] = self._sums[key] + scores if key in self._sums else scores
        self._counts[key] = self._counts.get(key, 0) + 1

    def layer_step_scores(self) -> torch.Tensor:
        """Return the scores as [B, N, K, P] on the CPU, N ordered by step, then layer."""
        pairs = [(layer, step) for step in self.steps for layer in self.layers]
        missing_steps = sorted({step for layer, step in pairs if (layer, step) not in self._sums})
        if missing_steps:
            raise RuntimeError(
                f"no scores were captured at steps {missing_steps}: the sampler never evaluated the "
                "model for the conditional prompt within those steps' sigma intervals. Choose other "
                "steps_to_average, or a sampler such as euler."
            )
        stacked = [self._sums[pair] / self._counts[pair] for pair in pairs]
        return torch.stack(stacked, dim=1).cpu()
