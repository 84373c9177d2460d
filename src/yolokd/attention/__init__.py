"""Attention blocks used before the distillation loss (pure torch)."""

from __future__ import annotations

from yolokd.attention.channel import ChannelAttention
from yolokd.attention.guided import mask_entropy, teacher_channel_weights, teacher_spatial_mask
from yolokd.attention.spatial import SpatialAttention

__all__ = ["ChannelAttention", "SpatialAttention", "mask_entropy", "teacher_channel_weights", "teacher_spatial_mask"]
