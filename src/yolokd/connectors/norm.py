"""Channel standardisation of feature maps before CWD (``kd_norm=channel``).

As MMYOLO's RTMDet CWD configs (``BN(affine=False, track_running_stats=False)`` on the teacher and on the
adapted student): each channel is standardised with its mean and variance over the batch and all
positions. CWD's per-channel softmax ignores the shift, so what this changes is each channel's scale:
every channel's distribution gets the same temperature relative to its spread, instead of channels with
large activations dominating and near-silent ones contributing flat, uninformative distributions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from yolokd.connectors import NORMS as _NAMES


def channel_standardize(x: Tensor, eps: float = 1e-5) -> Tensor:
    """(N, C, H, W) -> same shape, each channel at mean 0 and variance 1 over (N, H, W); float32."""
    x = x.float()
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) * torch.rsqrt(var + eps)


def identity(x: Tensor) -> Tensor:
    """``kd_norm=none``: the map as it is."""
    return x


NORMS: dict[str, Callable[[Tensor], Tensor]] = dict(zip(_NAMES, (identity, channel_standardize), strict=True))
