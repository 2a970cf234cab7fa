"""Pose backends: each turns one video (or one imported file) into a (T, 133, 3) array
of COCO-WholeBody (x px, y px, score), or raises VideoError with the reason."""
