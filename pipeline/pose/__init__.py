"""The pose stage: one backend per `pose.backend` (backends/registry.py) turns each
manifest row into COCO-WholeBody-133 points, written as shards (the contract in data/shards.py)."""
