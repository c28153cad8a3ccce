"""Input checks shared by the nodes that take a MASK or a CONCEPT_HEATMAP."""


def check_one_source(node_name: str, mask: object, heatmap: object) -> None:
    """Raise ValueError unless exactly one of the optional mask and heatmap inputs is connected."""
    if mask is not None and heatmap is not None:
        raise ValueError(f"{node_name}: connect either mask or heatmap, not both.")
    if mask is None and heatmap is None:
        raise ValueError(
            f"{node_name}: mask and heatmap are both missing, so connect one of them. (A heatmap "
            "taken from a Spectral Sharpen that was itself given a mask counts as missing.)"
        )
