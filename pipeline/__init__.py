"""GSP-MC: skeleton-based sign language recognition pipeline (Snakemake + DVC)."""

__version__ = "0.1.0"
