"""What a teacher or a student hands the distiller: neck features and, where a term needs them, head outputs.

Pure torch. The layout of ``scores`` and ``boxes`` is the one Ultralytics' Detect head returns in
training mode: levels P3, P4, P5 flattened and concatenated along the last (anchor) axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class Outputs:
    """Features and head outputs of one model on one batch.

    Attributes:
        feats: per level (N, C_l, H_l, W_l), the tensors that enter the Detect head.
        scores: class logits (N, nc, A) with A = sum of H_l * W_l, or None when no term needs them.
        boxes: DFL box logits (N, 4 * reg_max, A) (side-major: channel = side * reg_max + bin), or None.
    """

    feats: list[Tensor]
    scores: Tensor | None = None
    boxes: Tensor | None = None


def split_levels(flat: Tensor, feats: list[Tensor]) -> list[Tensor]:
    """(N, K, A) anchor-flattened head output -> per level (N, K, H_l, W_l), shaped like ``feats``."""
    sizes = [f.shape[2] * f.shape[3] for f in feats]
    return [x.reshape(*x.shape[:2], *f.shape[2:]) for x, f in zip(flat.split(sizes, dim=2), feats)]


def anchor_confidence(scores: Tensor) -> Tensor:
    """(N, A) teacher confidence per anchor: the max over classes of the sigmoid of (N, nc, A) logits, detached."""
    return scores.detach().float().sigmoid().amax(dim=1)
