"""Metrics, the multi-stream ensemble and (later) the paper's tables."""
