"""Dataset adapters, the synthetic sign corpus, the keypoint layout and shard I/O."""
