"""Teacher-guided, parameter-free attention masks.

In the manner of FGD (Yang et al., CVPR 2022, https://arxiv.org/abs/2111.11837):
masks are computed from the teacher's features alone and detached, so nothing can
learn to switch the distillation off. Unlike FGD's H*W*softmax masks (mean 1, peaks up
to H*W), these use a sigmoid of the standardised statistic so they stay in (0, 1)
like the learnable modules they replace.
"""

from __future__ import annotations

import math

from torch import Tensor


def _squash(stat: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Sigmoid of ``stat`` standardised over ``dims`` (values in (0, 1), 0.5 at the mean)."""
    mean = stat.mean(dim=dims, keepdim=True)
    std = stat.std(dim=dims, keepdim=True).clamp_min(1e-6)
    return ((stat - mean) / std).sigmoid()


def teacher_spatial_mask(teacher: Tensor) -> Tensor:
    """(N, 1, H, W) mask from the teacher's mean absolute activation per position (detached)."""
    t = teacher.detach().float()
    return _squash(t.abs().mean(dim=1, keepdim=True), dims=(2, 3))


def teacher_channel_weights(teacher: Tensor) -> Tensor:
    """(N, C, 1, 1) weights from the teacher's mean absolute activation per channel (detached)."""
    t = teacher.detach().float()
    return _squash(t.abs().mean(dim=(2, 3), keepdim=True), dims=(1,))


def mask_entropy(mask: Tensor) -> Tensor:
    """(N,) entropy of each mask (N, ...) taken as a distribution over its positions, divided by its
    maximum log(positions): 1 for a uniform mask, near 0 for one concentrated on a single position."""
    p = mask.flatten(1).float()  # (N, positions)
    p = p / p.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return -(p * p.clamp_min(1e-12).log()).sum(dim=1) / max(math.log(p.shape[1]), 1e-12)
