"""Pose backends writing COCO-WholeBody-133 shards."""
