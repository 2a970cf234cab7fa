"""The synthetic sign corpus (`dataset: demo`): phonology, signer bodies, rendering, and a
dictionary written from the sign specs by a lexicographer with its own words (lossy, sometimes
wrong, some classes missing, distractors)."""
