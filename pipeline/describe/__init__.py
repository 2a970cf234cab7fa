"""GSP: knowledge-grounded sign descriptions (retrieval, generation, refinement, parts)."""
