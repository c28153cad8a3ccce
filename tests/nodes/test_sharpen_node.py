"""Spectral Sharpen node: inputs, validation, shapes, dtypes and a real photo."""

import logging

import numpy as np
import pytest
import torch

from contrastive_attention_pack.contrastive_core.errors import NonFiniteError
from contrastive_attention_pack.nodes.sharpen_node import SpectralSharpen

PATCH = 16


def sharpen(**inputs) -> tuple[torch.Tensor, object]:
    output = SpectralSharpen.execute(**inputs)
    mask, heatmap = output.args
    return mask, heatmap


def random_scores(pairs: int, grid_height: int, grid_width: int, seed: int = 0) -> np.ndarray:
    """Scores [pairs, 2 concepts, patches]: a bright target block on noise, and flat anti-concept noise."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(pairs, 2, grid_height * grid_width)).astype(np.float32)
    block = np.zeros((grid_height, grid_width), dtype=np.float32)
    block[: grid_height // 2, : grid_width // 2] = 4.0
    scores[:, 0] += block.reshape(-1)
    return scores


def assert_valid_mask(mask: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert tuple(mask.shape) == shape
    assert mask.dtype == torch.float32
    assert torch.isfinite(mask).all()
    assert mask.min() >= 0.0
    assert mask.max() <= 1.0


def test_schema_ids_and_input_order():
    schema = SpectralSharpen.define_schema()

    assert schema.node_id == "ContrastiveAttention_SpectralSharpen"
    assert schema.display_name == "Spectral Sharpen"
    assert schema.category == "concept attention"
    assert [item.id for item in schema.inputs] == ["heatmap", "mask", "exponent", "mode", "temperature", "upsample"]
    assert [item.optional for item in schema.inputs[:2]] == [True, True]
    assert all(item.tooltip for item in schema.inputs)
    assert [output.io_type for output in schema.outputs] == ["MASK", "CONCEPT_HEATMAP"]
    assert SpectralSharpen.GET_NODE_INFO_V1()["input_order"]["optional"] == ["heatmap", "mask"]


@pytest.mark.parametrize("exponent", [0.0, -1.0, 8.5, float("nan")])
def test_exponent_out_of_range_rejected_first(exponent):
    # The heatmap is not a ConceptHeatmap, so any work before the check would fail differently.
    with pytest.raises(ValueError, match=r"exponent must .*\[0\.05, 8\.0\], got"):
        sharpen(heatmap=object(), exponent=exponent)


@pytest.mark.parametrize("temperature", [0.0, -0.1, 11.0])
def test_temperature_out_of_range_rejected_first(temperature):
    with pytest.raises(ValueError, match=r"temperature must be in \[0\.001, 10\.0\], got"):
        sharpen(heatmap=object(), temperature=temperature)


def test_both_sources_rejected(make_heatmap):
    heatmap = make_heatmap(random_scores(1, 2, 2), 2, 2, 32, 32)

    with pytest.raises(ValueError, match="either mask or heatmap, not both"):
        sharpen(heatmap=heatmap, mask=torch.zeros(1, 8, 8))


def test_no_source_rejected():
    with pytest.raises(ValueError, match="mask and heatmap are both missing"):
        sharpen()


def test_consensus_with_mask_rejected():
    with pytest.raises(ValueError, match="mode 'consensus' needs a heatmap input"):
        sharpen(mask=torch.rand(1, 8, 8), mode="consensus")


def test_unknown_upsample_rejected():
    with pytest.raises(ValueError, match=r"upsample must be one of \('bilinear', 'nearest'\), got 'bicubic'"):
        sharpen(mask=torch.rand(1, 8, 8), upsample="bicubic")


def test_wrong_heatmap_type_rejected():
    with pytest.raises(ValueError, match="heatmap must be a CONCEPT_HEATMAP, got Tensor"):
        sharpen(heatmap=torch.zeros(1, 8, 8))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_mask_gives_float32(dtype):
    mask = torch.rand(2, 24, 40, generator=torch.Generator().manual_seed(0)).to(dtype)

    result, heatmap = sharpen(mask=mask)

    assert_valid_mask(result, (2, 24, 40))
    assert heatmap is None


def test_nan_mask_names_stage():
    mask = torch.rand(1, 16, 16)
    mask[0, 3, 5] = float("nan")

    with pytest.raises(NonFiniteError, match="NaN or infinity in Spectral Sharpen mask input"):
        sharpen(mask=mask)


@pytest.mark.parametrize("shape, expected", [((24, 40), (1, 24, 40)), ((3, 24, 40), (3, 24, 40))])
def test_mask_output_has_batch_axis(shape, expected):
    result, _ = sharpen(mask=torch.rand(*shape))

    assert_valid_mask(result, expected)


def test_all_zero_mask_gives_zeros(caplog):
    # ComfyUI's LoadImage returns a 64 x 64 zero mask for an image without alpha.
    with caplog.at_level(logging.WARNING):
        result, _ = sharpen(mask=torch.zeros(1, 64, 64))

    assert_valid_mask(result, (1, 64, 64))
    assert torch.count_nonzero(result) == 0
    assert any("constant" in record.getMessage() for record in caplog.records)


def test_mask_items_sharpened_independently():
    generator = torch.Generator().manual_seed(1)
    first, second = torch.rand(1, 20, 30, generator=generator), torch.rand(1, 20, 30, generator=generator) * 5.0

    batched, _ = sharpen(mask=torch.cat([first, second]), exponent=3.0)
    alone_first, _ = sharpen(mask=first, exponent=3.0)
    alone_second, _ = sharpen(mask=second, exponent=3.0)

    torch.testing.assert_close(batched[0], alone_first[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batched[1], alone_second[0], rtol=1e-5, atol=1e-6)


def test_exponent_one_keeps_pixel_ranking():
    mask = torch.rand(1, 12, 18, generator=torch.Generator().manual_seed(2))

    result, _ = sharpen(mask=mask, exponent=1.0, temperature=1.0)

    order = torch.argsort(mask.reshape(-1))
    assert torch.all(torch.diff(result.reshape(-1)[order]) >= 0)


def test_mask_keeps_its_size_for_any_upsample():
    mask = torch.rand(1, 37, 53)

    bilinear, _ = sharpen(mask=mask, upsample="bilinear")
    nearest, _ = sharpen(mask=mask, upsample="nearest")

    assert_valid_mask(bilinear, (1, 37, 53))
    torch.testing.assert_close(bilinear, nearest)


@pytest.mark.parametrize("mode", ["spatial", "consensus"])
@pytest.mark.parametrize("upsample", ["bilinear", "nearest"])
def test_heatmap_upsampled_to_image_size(make_heatmap, mode, upsample):
    # 5 x 3 patches of a 72 x 40 image: neither side is a multiple of 16.
    heatmap = make_heatmap(random_scores(4, 5, 3), 5, 3, 72, 40)

    result, passed_through = sharpen(heatmap=heatmap, mode=mode, upsample=upsample)

    assert_valid_mask(result, (1, 72, 40))
    assert passed_through is heatmap
    assert result.max() == pytest.approx(1.0, abs=1e-6)


def test_heatmap_bright_block_stays_brightest(make_heatmap):
    heatmap = make_heatmap(random_scores(2, 8, 8), 8, 8, 8 * PATCH, 8 * PATCH)

    result, _ = sharpen(heatmap=heatmap)

    half = 4 * PATCH
    assert result[0, :half, :half].mean() > 5 * result[0, half:, half:].mean()


def test_zero_contrast_heatmap_gives_zeros_and_warning(make_heatmap, caplog):
    scores = np.ones((2, 2, 6 * 4), dtype=np.float32)  # concept == anti-concept
    heatmap = make_heatmap(scores, 6, 4, 6 * PATCH, 4 * PATCH)

    with caplog.at_level(logging.WARNING):
        result, _ = sharpen(heatmap=heatmap)

    assert_valid_mask(result, (1, 6 * PATCH, 4 * PATCH))
    assert torch.count_nonzero(result) == 0
    assert any("constant" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("mode", ["spatial", "consensus"])
def test_single_patch_heatmap_gives_zeros(make_heatmap, mode):
    scores = np.full((1, 2, 1), 0.5, dtype=np.float32)  # one patch, zero contrast
    heatmap = make_heatmap(scores, 1, 1, PATCH, PATCH)

    result, _ = sharpen(heatmap=heatmap, mode=mode)

    assert_valid_mask(result, (1, PATCH, PATCH))
    assert torch.count_nonzero(result) == 0


@pytest.mark.slow
def test_large_mask_sharpening_finishes():
    # Measured on a 2-core x86 CPU: about 6 s with OpenBLAS preloaded, 30 to 45 s with MLX's reference BLAS.
    mask = torch.rand(1, 2048, 2048, generator=torch.Generator().manual_seed(3))

    result, _ = sharpen(mask=mask)

    assert_valid_mask(result, (1, 2048, 2048))


def test_blurred_photo_mask_peaks_inside_object(voc_photo):
    inside = voc_photo["mask"][0] > 0.5
    blurred = voc_photo["blurred"]

    result, _ = sharpen(mask=blurred, exponent=2.0, temperature=0.1)

    heat = result[0]
    peak_row, peak_column = divmod(int(torch.argmax(heat)), heat.shape[1])
    assert inside[peak_row, peak_column]
    share_before = blurred[0][inside].sum() / blurred[0].sum()
    share_after = heat[inside].sum() / heat.sum()
    assert share_after > share_before


def test_sharp_photo_mask_stays_on_object(voc_photo):
    inside = voc_photo["mask"][0] > 0.5

    result, _ = sharpen(mask=voc_photo["mask"], exponent=2.0, temperature=0.1)

    heat = result[0]
    assert heat[inside].mean() > 10 * heat[~inside].mean()
