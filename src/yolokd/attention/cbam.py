"""Channel then spatial attention for one feature level, in CBAM's order.

Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018, https://arxiv.org/abs/1807.06521;
the paper (Wang et al., §3.2) applies both blocks to the features before CWD.
"""

from __future__ import annotations

from torch import Tensor, nn

from yolokd.attention.channel import ChannelAttention
from yolokd.attention.spatial import SpatialAttention


class Attention(nn.Module):
    """Learnable channel + spatial attention; ``normalize`` rescales both masks to mean 1.

    Args:
        channels: channels C of the features.
        spatial_kernel: odd kernel size of the spatial conv (CBAM: 7).
        channel_reduction: reduction ratio of the channel FC layers (16).
        normalize: divide the channel weights by their mean over C and the mask by its mean over H*W.
    """

    def __init__(self, channels: int, spatial_kernel: int = 7, channel_reduction: int = 16, normalize: bool = False):
        super().__init__()
        self.channel = ChannelAttention(channels, channel_reduction)
        self.spatial = SpatialAttention(spatial_kernel)
        self.normalize = normalize

    def masks(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Channel weights (N, C, 1, 1) and the spatial mask (N, 1, H, W) for features x (N, C, H, W)."""
        w = self.channel.weights(x)
        if self.normalize:
            w = w / w.mean(dim=1, keepdim=True)
        m = self.spatial.mask(x * w)
        if self.normalize:
            m = m / m.mean(dim=(2, 3), keepdim=True)
        return w, m

    def forward(self, x: Tensor) -> Tensor:
        w, m = self.masks(x)
        return x * w * m
