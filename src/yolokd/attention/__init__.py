"""Attention blocks used before the distillation loss (pure torch)."""

from __future__ import annotations

from yolokd.attention.cbam import Attention
from yolokd.attention.channel import ChannelAttention
from yolokd.attention.guided import mask_entropy, teacher_channel_weights, teacher_spatial_mask
from yolokd.attention.score import score_spatial_mask
from yolokd.attention.spatial import SpatialAttention

__all__ = [
    "Attention",
    "ChannelAttention",
    "SpatialAttention",
    "mask_entropy",
    "score_spatial_mask",
    "teacher_channel_weights",
    "teacher_spatial_mask",
]
