"""Zero-shot recognition from dictionary text: classes held out of training are
recognised by the cosine similarity between a clip's projected skeleton features (the MC
heads' global and per-part features) and the embeddings of their descriptions."""
