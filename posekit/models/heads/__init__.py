"""Heads: import from the module files (heatmap, srcnn_refine, rtmcc, ...)."""
