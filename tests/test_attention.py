"""Attention blocks: shapes, masks inside (0, 1), gradients."""

from __future__ import annotations

import pytest
import torch

from yolokd.attention import ChannelAttention, SpatialAttention, teacher_channel_weights, teacher_spatial_mask

X = torch.randn(2, 32, 9, 11) * 4


@pytest.mark.parametrize("kernel", [1, 3, 7])
def test_spatial_attention(kernel):
    att = SpatialAttention(kernel)
    mask = att.mask(X)
    assert mask.shape == (2, 1, 9, 11)
    assert ((mask > 0) & (mask < 1)).all()
    assert att(X).shape == X.shape
    att(X).sum().backward()
    assert att.conv.weight.grad is not None


@pytest.mark.parametrize("reduction", [1, 16, 64])
def test_channel_attention(reduction):
    att = ChannelAttention(32, reduction)
    w = att.weights(X)
    assert w.shape == (2, 32, 1, 1)
    assert ((w > 0) & (w < 1)).all()
    assert torch.allclose(att(X), X * w)


def test_teacher_guided_masks_are_detached_and_in_unit_interval():
    t = X.clone().requires_grad_(True)
    spatial, channel = teacher_spatial_mask(t), teacher_channel_weights(t)
    assert spatial.shape == (2, 1, 9, 11) and channel.shape == (2, 32, 1, 1)
    for m in (spatial, channel):
        assert not m.requires_grad
        assert ((m > 0) & (m < 1)).all()


@pytest.mark.parametrize("bad", [0, 2, -3])
def test_spatial_rejects_even_or_nonpositive_kernel(bad):
    with pytest.raises(ValueError):
        SpatialAttention(bad)
