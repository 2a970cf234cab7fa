"""Numbers the paper publishes, for the columns beside our measured ones."""
from __future__ import annotations

# Table 5 (one stream; the paper does not say which), keyed by the MC terms on top of CE:
# Synonym = the synonym term, Prompt = the global-description term, Multipart = the part terms.
TABLE5_TOP1 = {
    frozenset(): 93.85,
    frozenset({"synonym"}): 94.50,
    frozenset({"global"}): 94.93,
    frozenset({"parts"}): 95.25,
    frozenset({"synonym", "global"}): 95.38,
    frozenset({"global", "synonym", "parts"}): 95.81,
}
TABLE5_DATASET = "SLR-500"
