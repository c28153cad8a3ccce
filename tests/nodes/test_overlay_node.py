"""Heatmap Overlay node: batching, channels, resizing, colour maps, dtypes and a real photo."""

import matplotlib
import numpy as np
import pytest
import torch

from contrastive_attention_pack.contrastive_core.errors import NonFiniteError
from contrastive_attention_pack.nodes.overlay_node import HeatmapOverlay
from contrastive_attention_pack.nodes.sharpen_node import SpectralSharpen

# Expected colours come from the same matplotlib table, so they match up to float32 rounding.
COLOUR_TOLERANCE = 1e-6
JET_TOP = torch.tensor(matplotlib.colormaps["jet"](1.0)[:3], dtype=torch.float32)  # dark red, about (0.5, 0, 0)
JET_BOTTOM = torch.tensor(matplotlib.colormaps["jet"](0.0)[:3], dtype=torch.float32)  # dark blue, about (0, 0, 0.5)


def overlay(**inputs) -> torch.Tensor:
    (image,) = HeatmapOverlay.execute(**inputs).args
    return image


def assert_valid_image(image: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert tuple(image.shape) == shape
    assert image.dtype == torch.float32
    assert torch.isfinite(image).all()
    assert image.min() >= 0.0
    assert image.max() <= 1.0


def random_image(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_schema_ids_and_input_order():
    schema = HeatmapOverlay.define_schema()

    assert schema.node_id == "ContrastiveAttention_HeatmapOverlay"
    assert schema.display_name == "Heatmap Overlay"
    assert [item.id for item in schema.inputs] == ["image", "mask", "heatmap", "colormap", "alpha"]
    assert [item.optional for item in schema.inputs[:3]] == [False, True, True]
    assert schema.inputs[3].default == "jet"
    assert all(item.tooltip for item in schema.inputs)
    assert [output.io_type for output in schema.outputs] == ["IMAGE"]
    assert HeatmapOverlay.GET_NODE_INFO_V1()["input_order"]["optional"] == ["mask", "heatmap"]


def test_both_sources_rejected(make_heatmap):
    heatmap = make_heatmap(np.zeros((1, 2, 4), dtype=np.float32), 2, 2, 32, 32)

    with pytest.raises(ValueError, match="either mask or heatmap, not both"):
        overlay(image=random_image(1, 32, 32, 3), mask=torch.zeros(1, 32, 32), heatmap=heatmap)


def test_no_source_rejected():
    with pytest.raises(ValueError, match="mask and heatmap are both missing"):
        overlay(image=random_image(1, 32, 32, 3))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_out_of_range_rejected(alpha):
    with pytest.raises(ValueError, match=r"alpha must .*\[0, 1\], got"):
        overlay(image=random_image(1, 8, 8, 3), mask=torch.zeros(1, 8, 8), alpha=alpha)


def test_unknown_colormap_rejected():
    with pytest.raises(ValueError, match="colormap must be one of .*, got 'rainbow'"):
        overlay(image=random_image(1, 8, 8, 3), mask=torch.zeros(1, 8, 8), colormap="rainbow")


def test_two_channel_image_rejected():
    with pytest.raises(ValueError, match=r"image must be an IMAGE .*got shape \(1, 8, 8, 2\)"):
        overlay(image=random_image(1, 8, 8, 2), mask=torch.zeros(1, 8, 8))


def test_single_hwc_image_gains_batch_axis():
    result = overlay(image=random_image(48, 64, 3), mask=random_image(48, 64))

    assert_valid_image(result, (1, 48, 64, 3))


def test_equal_batches_paired_item_by_item():
    images = random_image(2, 20, 30, 3, seed=1)
    masks = random_image(2, 20, 30, seed=2)

    result = overlay(image=images, mask=masks, alpha=0.7)

    assert_valid_image(result, (2, 20, 30, 3))
    for index in range(2):
        alone = overlay(image=images[index : index + 1], mask=masks[index : index + 1], alpha=0.7)
        torch.testing.assert_close(result[index], alone[0], rtol=0, atol=COLOUR_TOLERANCE)
    swapped = overlay(image=images[:1], mask=masks[1:], alpha=0.7)
    assert not torch.allclose(result[0], swapped[0])


def test_mask_batch_of_one_broadcasts():
    images = random_image(3, 20, 30, 3, seed=3)
    mask = random_image(1, 20, 30, seed=4)

    result = overlay(image=images, mask=mask)

    assert_valid_image(result, (3, 20, 30, 3))
    for index in range(3):
        alone = overlay(image=images[index : index + 1], mask=mask)
        torch.testing.assert_close(result[index], alone[0], rtol=0, atol=COLOUR_TOLERANCE)


def test_mismatched_batches_name_both():
    with pytest.raises(ValueError, match="mask batch size 3 does not match image batch size 2"):
        overlay(image=random_image(2, 8, 8, 3), mask=random_image(3, 8, 8))


def test_grayscale_image_becomes_rgb():
    gray = random_image(1, 512, 512, 1, seed=5)

    result = overlay(image=gray, mask=torch.zeros(1, 512, 512), alpha=0.0)

    assert_valid_image(result, (1, 512, 512, 3))
    torch.testing.assert_close(result, gray.expand(1, 512, 512, 3))


def test_rgba_keeps_alpha_exactly():
    image = random_image(2, 40, 24, 4, seed=6)

    result = overlay(image=image, mask=random_image(2, 40, 24, seed=7))

    assert_valid_image(result, (2, 40, 24, 4))
    assert torch.equal(result[..., 3], image[..., 3])
    assert not torch.equal(result[..., :3], image[..., :3])


def test_rgba_alpha_broadcast_to_mask_batch():
    image = random_image(1, 16, 16, 4, seed=8)

    result = overlay(image=image, mask=random_image(3, 16, 16, seed=9))

    assert_valid_image(result, (3, 16, 16, 4))
    for index in range(3):
        assert torch.equal(result[index, ..., 3], image[0, ..., 3])


def test_square_mask_resized_per_axis_without_transpose():
    mask = torch.zeros(1, 64, 64)
    mask[0, 0, :] = 1.0  # bright top row
    image = torch.zeros(1, 600, 400, 3)  # height 600, width 400

    result = overlay(image=image, mask=mask, alpha=1.0)

    assert_valid_image(result, (1, 600, 400, 3))
    top_row, bottom_row, left_column = result[0, 0], result[0, -1], result[0, :, 0]
    torch.testing.assert_close(top_row, JET_TOP.expand(400, 3), rtol=0, atol=COLOUR_TOLERANCE)
    torch.testing.assert_close(bottom_row, JET_BOTTOM.expand(400, 3), rtol=0, atol=COLOUR_TOLERANCE)
    assert (left_column[:, 0] > left_column[:, 2]).sum() < 600 // 10


def jet_colour(value: float) -> torch.Tensor:
    result = overlay(image=random_image(1, 4, 4, 3), mask=torch.full((1, 4, 4), value), colormap="jet", alpha=1.0)
    return result[0, 0, 0]


def test_jet_one_is_dark_red():
    red, green, blue = jet_colour(1.0)

    torch.testing.assert_close(torch.stack([red, green, blue]), JET_TOP, rtol=0, atol=COLOUR_TOLERANCE)
    assert 0.45 < red < 0.75
    assert green < 0.05
    assert blue < 0.05


def test_jet_zero_is_dark_blue():
    red, green, blue = jet_colour(0.0)

    torch.testing.assert_close(torch.stack([red, green, blue]), JET_BOTTOM, rtol=0, atol=COLOUR_TOLERANCE)
    assert red < 0.05
    assert green < 0.05
    assert 0.45 < blue < 0.75


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_give_float32(dtype):
    result = overlay(image=random_image(1, 16, 16, 3).to(dtype), mask=random_image(1, 16, 16).to(dtype))

    assert_valid_image(result, (1, 16, 16, 3))


def test_nan_mask_names_stage():
    mask = random_image(1, 16, 16)
    mask[0, 0, 0] = float("nan")

    with pytest.raises(NonFiniteError, match="NaN or infinity in Heatmap Overlay mask input"):
        overlay(image=random_image(1, 16, 16, 3), mask=mask)


def test_out_of_range_image_clipped():
    image = random_image(1, 8, 8, 3) * 3.0 - 1.0  # values in [-1, 2]

    result = overlay(image=image, mask=random_image(1, 8, 8))

    assert_valid_image(result, (1, 8, 8, 3))


def test_heatmap_rendered_with_sharpen_defaults(make_heatmap):
    rng = np.random.default_rng(10)
    heatmap = make_heatmap(rng.normal(size=(3, 2, 4 * 6)).astype(np.float32), 4, 6, 64, 96)
    image = random_image(1, 64, 96, 3, seed=11)

    direct = overlay(image=image, heatmap=heatmap)
    mask, _ = SpectralSharpen.execute(heatmap=heatmap).args
    via_mask = overlay(image=image, mask=mask)

    assert_valid_image(direct, (1, 64, 96, 3))
    torch.testing.assert_close(direct, via_mask, rtol=0, atol=COLOUR_TOLERANCE)


def test_zero_contrast_heatmap_overlay_is_finite(make_heatmap):
    heatmap = make_heatmap(np.zeros((1, 2, 1), dtype=np.float32), 1, 1, 16, 16)

    result = overlay(image=random_image(1, 16, 16, 3), heatmap=heatmap, alpha=1.0)

    assert_valid_image(result, (1, 16, 16, 3))
    torch.testing.assert_close(result[0, 0, 0], JET_BOTTOM, rtol=0, atol=COLOUR_TOLERANCE)


def red_minus_blue(image: torch.Tensor) -> torch.Tensor:
    return image[..., 0] - image[..., 2]


def test_photo_overlay_redder_on_object(voc_photo):
    inside = voc_photo["mask"][0] > 0.5

    result = overlay(image=voc_photo["image"], mask=voc_photo["mask"], colormap="jet", alpha=0.5)
    photo_redness = red_minus_blue(voc_photo["image"][0])
    overlay_redness = red_minus_blue(result[0])

    assert_valid_image(result, (1, 375, 500, 3))
    assert overlay_redness[inside].mean() > overlay_redness[~inside].mean() + 0.3
    # Jet's red minus blue is +0.5 at 1 and -0.5 at 0, so the blend moves the object towards red
    # and the rest towards blue.
    assert (overlay_redness - photo_redness)[inside].mean() > 0.1
    assert (overlay_redness - photo_redness)[~inside].mean() < -0.1


def warm_share(colours: torch.Tensor) -> torch.Tensor:
    """Fraction of colours [N, 3] whose red exceeds their blue: jet values above about 0.5."""
    return (colours[:, 0] > colours[:, 2]).float().mean()


def test_photo_sharpened_leaky_heatmap_overlay(voc_photo):
    inside = voc_photo["mask"][0] > 0.5
    leaky = voc_photo["blurred"]

    sharpened, _ = SpectralSharpen.execute(mask=leaky).args
    # With alpha 1 the overlay is the colour-mapped heatmap itself.
    leaky_colours = overlay(image=voc_photo["image"], mask=leaky, alpha=1.0)[0]
    sharp_colours = overlay(image=voc_photo["image"], mask=sharpened, alpha=1.0)[0]

    assert_valid_image(sharp_colours[None], (1, 375, 500, 3))
    assert warm_share(leaky_colours[~inside]) > 0.0
    assert warm_share(sharp_colours[~inside]) < warm_share(leaky_colours[~inside])
    assert warm_share(sharp_colours[inside]) > 0.2
