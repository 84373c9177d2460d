"""Distillation losses (pure torch): the CWD loss and the distiller's terms, one per file."""

from __future__ import annotations

from yolokd.losses.box import BoxDistributionKD
from yolokd.losses.cwd import ChannelWiseDivergence
from yolokd.losses.feature import FeatureCWD
from yolokd.losses.outputs import Outputs
from yolokd.losses.score import ClassScoreKD

__all__ = ["BoxDistributionKD", "ChannelWiseDivergence", "ClassScoreKD", "FeatureCWD", "Outputs"]
