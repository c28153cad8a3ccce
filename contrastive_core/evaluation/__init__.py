"""Heatmap quality evaluation over a segmentation data set (run with ``python -m contrastive_core.evaluate``)."""
