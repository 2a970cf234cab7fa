"""Dataset adapters (the demo's synthetic corpus among them), the keypoint layout with its
body-part names, and shard I/O with the pose stage's output contract."""
