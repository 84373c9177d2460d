"""Channel attention: per-channel weights from globally pooled features.

Squeeze-and-Excitation (Hu et al., CVPR 2018, https://arxiv.org/abs/1709.01507) as used
by the paper: global average pool -> FC -> ReLU -> FC -> sigmoid, output X * w.
"""

from __future__ import annotations

from torch import Tensor, nn


class ChannelAttention(nn.Module):
    """Learnable channel attention.

    Args:
        channels: number of input channels C.
        reduction: hidden width is max(C // reduction, 1) (16 is the usual choice).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels}, {reduction}")
        hidden = max(channels // reduction, 1)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def weights(self, x: Tensor) -> Tensor:
        """Return the (N, C, 1, 1) weights in (0, 1) for features x of shape (N, C, H, W)."""
        n, c = x.shape[:2]
        return self.fc(x.mean(dim=(2, 3))).sigmoid().view(n, c, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weights(x)
