"""Distillation losses (pure torch): the CWD loss and the distiller's terms, one per file.

    cwd.py       ChannelWiseDivergence: CWD between two maps of one shape (the paper's loss)
    feature.py   FeatureCWD, the term kd_cwd: connectors (yolokd.connectors) + CWD per neck level
    score.py     ClassScoreKD, the term kd_cls: the teacher's class probabilities as soft targets
    box.py       BoxDistributionKD, the term kd_box: LD of the DFL box distributions
    outputs.py   Outputs: what a model hands the terms (features, class and box logits)
    schedule.py  the weights over epochs (kd_schedule, kd_stop)

The classes are imported from their modules on first use, so the choice names here and in schedule.py
are read (by yolokd.cfg) without loading torch.
"""

from __future__ import annotations

import importlib

SOFTMAX_INPUTS = ("tau", "sqrt_hw")  # ChannelWiseDivergence's softmax input: S / tau (CWD) or S / sqrt(H*W)

_LAZY = {
    "BoxDistributionKD": "box",
    "ChannelWiseDivergence": "cwd",
    "ClassScoreKD": "score",
    "FeatureCWD": "feature",
    "Outputs": "outputs",
}
__all__ = ["SOFTMAX_INPUTS", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"yolokd.losses.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'yolokd.losses' has no attribute {name!r}")
