"""Feature-distillation losses (pure torch)."""

from __future__ import annotations

from yolokd.losses.cwd import ChannelWiseDivergence

__all__ = ["ChannelWiseDivergence"]
