"""CTR-GCN skeleton encoder, its graph, classifier head (text heads come with the MC loss)."""
