"""Spatial attention: a per-position mask from channel statistics.

Paper eq. 3-4 (Wang et al.), after CBAM's spatial branch (Woo et al., ECCV 2018,
https://arxiv.org/abs/1807.06521): M = sigmoid(conv([mean_c(X); max_c(X)])), output X * M.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SpatialAttention(nn.Module):
    """Learnable spatial attention.

    Args:
        kernel_size: odd size of the conv over the 2-channel [mean; max] map (CBAM uses 7).
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def mask(self, x: Tensor) -> Tensor:
        """Return the (N, 1, H, W) mask in (0, 1) for features x of shape (N, C, H, W)."""
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (N, 2, H, W)
        return torch.sigmoid(self.conv(stats))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.mask(x)
