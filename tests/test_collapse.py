"""The attention trap (losses/feature.py): learnable attention on both sides switches CWD off.

Student features are fixed and only the attention parameters are trained on the CWD loss. The
paper-literal ``shared`` mode drives the loss to ~0 by pushing its spatial masks to ~0 (both
distributions become uniform, whatever the student does); ``student``, ``shared_norm`` (masks
rescaled to mean 1) and ``teacher`` cannot.
"""

from __future__ import annotations

import pytest
import torch

from yolokd.losses.feature import FeatureCWD
from yolokd.losses.outputs import Outputs


def train_attention_only(mode: str, steps: int = 200) -> tuple[float, float, FeatureCWD]:
    torch.manual_seed(0)
    student, teacher = Outputs([torch.randn(4, 16, 12, 12)]), Outputs([torch.randn(4, 32, 12, 12) * 2])
    d = FeatureCWD([16], [32], tau=0.5, attention=mode)
    before = d(student, teacher).item()
    params = list(d.attention.parameters())
    if params:
        opt = torch.optim.Adam(params, lr=1e-2)
        for _ in range(steps):
            opt.zero_grad()
            d(student, teacher).backward()
            opt.step()
    return before, d(student, teacher).item(), d


def test_shared_attention_collapses():
    before, after, d = train_attention_only("shared")
    assert after < 0.01 * before  # the loss is gone...
    mask = d.attention[0].spatial.mask(d.attention[0].channel(torch.randn(4, 32, 12, 12) * 2))
    assert mask.mean() < 0.01  # ...because the spatial mask went to zero, not because the student matched


def test_mean_one_masks_do_not_collapse():
    before, after, d = train_attention_only("shared_norm")
    assert after > 0.5 * before
    d.train()
    d(Outputs([torch.randn(4, 16, 12, 12)]), Outputs([torch.randn(4, 32, 12, 12) * 2]))
    stats = d.pop_stats()
    assert stats["attn/l0_mask"] == pytest.approx(1.0) and stats["attn/l0_channel"] == pytest.approx(1.0)
    again = d.pop_stats()  # reset after reading: an epoch without data keeps the columns, empty (NaN)
    assert set(again) == set(stats) and all(v != v for v in again.values())


def test_collapse_is_visible_in_the_statistics():
    _, _, shared = train_attention_only("shared")
    _, _, student = train_attention_only("student")
    for d in (shared, student):
        d.train()
        d(Outputs([torch.randn(4, 16, 12, 12)]), Outputs([torch.randn(4, 32, 12, 12) * 2]))
    assert shared.pop_stats()["attn/l0_mask"] < 0.5 * student.pop_stats()["attn/l0_mask"]


def test_student_side_attention_does_not_collapse():
    before, after, _ = train_attention_only("student")
    assert after > 0.5 * before


def test_teacher_guided_masks_cannot_be_trained_away():
    before, after, d = train_attention_only("teacher")
    assert not list(d.attention.parameters()) and after == before > 0
