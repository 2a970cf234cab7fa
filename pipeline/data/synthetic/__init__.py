"""The synthetic sign corpus (`dataset: demo`): phonology, signer bodies, rendering,
and the expert-dictionary knowledge base written from the same sign specs."""
