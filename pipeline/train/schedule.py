"""Learning-rate schedule of the CTR-GCN family: linear warm-up, then step decay."""
from __future__ import annotations


def learning_rate(epoch: int, base_lr: float, warmup_epochs: int, steps: list[int], decay: float) -> float:
    """LR for a 0-based epoch: (epoch + 1) / warmup * base during warm-up, then
    base * decay ** (number of steps already reached)."""
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / warmup_epochs
    return base_lr * decay ** sum(epoch >= s for s in steps)
