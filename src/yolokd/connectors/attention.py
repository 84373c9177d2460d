"""Attention before CWD, one class per mode (``kd_attn_mode``), chosen by name from ``MODES``.

Every mode takes one level's adapted student and teacher maps (N, C, H, W) and returns them re-weighted,
with the channel weights (N, C, 1, 1) and spatial mask (N, 1, H, W) it applied to the student (None where it
applies none), so the feature term can log their statistics.

The trap (DESIGN §1, tests/test_collapse.py): CWD compares per-channel spatial distributions, so a factor
-> 0 on both sides flattens them and lowers the loss whatever the student does. Attention trained by the KD
loss alone on both sides (``shared``) can learn to switch distillation off; the other modes cannot:
- ``none``: plain CWD.
- ``student``: learnable channel + spatial attention (CBAM order) on the student side only.
- ``shared``: paper-literal; one learnable attention per level applied to both sides (can collapse).
- ``shared_norm``: ``shared`` with each mask divided by its mean, so it re-weights but cannot scale to zero.
- ``teacher``: parameter-free masks from the detached teacher features, on both sides (FGD / FBKD style).
- ``score``: a detached spatial mask, 1 + the teacher's class probability, on both sides (needs the
  teacher's head outputs): objects weigh up to twice the background.
"""

from __future__ import annotations

from torch import Tensor, nn

from yolokd.attention import (
    Attention,
    score_spatial_mask,
    teacher_channel_weights,
    teacher_spatial_mask,
)
from yolokd.connectors import ATTENTION_MODES

Attended = tuple[Tensor, Tensor, Tensor | None, Tensor | None]  # student, teacher, channel weights, spatial mask


class NoAttention(nn.Module):
    """``none``: both maps as they are."""

    mode, needs_scores = "none", False

    def __init__(self, channels: int, **_: object) -> None:
        super().__init__()

    def forward(self, student: Tensor, teacher: Tensor, scores: Tensor | None = None) -> Attended:
        return student, teacher, None, None


class StudentAttention(Attention):
    """``student``: learnable attention on the student side; the teacher's map untouched."""

    mode, needs_scores = "student", False
    normalize_masks = False

    def __init__(self, channels: int, spatial_kernel: int = 7, channel_reduction: int = 16, **_: object) -> None:
        super().__init__(channels, spatial_kernel, channel_reduction, normalize=self.normalize_masks)

    def forward(self, student: Tensor, teacher: Tensor, scores: Tensor | None = None) -> Attended:
        w, m = self.masks(student)
        return student * w * m, teacher, w, m


class SharedAttention(StudentAttention):
    """``shared``: the same learnable attention on both sides (paper-literal; can collapse)."""

    mode = "shared"

    def forward(self, student: Tensor, teacher: Tensor, scores: Tensor | None = None) -> Attended:
        w, m = self.masks(student)
        tw, tm = self.masks(teacher)
        return student * w * m, teacher * tw * tm, w, m


class SharedNormAttention(SharedAttention):
    """``shared_norm``: ``shared`` with both masks rescaled to mean 1."""

    mode, normalize_masks = "shared_norm", True


class TeacherGuided(NoAttention):
    """``teacher``: parameter-free masks from the detached teacher features, on both sides."""

    mode = "teacher"

    def forward(self, student: Tensor, teacher: Tensor, scores: Tensor | None = None) -> Attended:
        w, m = teacher_channel_weights(teacher), teacher_spatial_mask(teacher)
        return student * w * m, teacher * w * m, w, m


class ScoreGuided(NoAttention):
    """``score``: a detached spatial mask from the teacher's class scores (N, nc, H, W), on both sides."""

    mode, needs_scores = "score", True

    def __init__(self, channels: int, score_tau: float = 1.0, **_: object) -> None:
        super().__init__(channels)
        self.score_tau = float(score_tau)

    def forward(self, student: Tensor, teacher: Tensor, scores: Tensor | None = None) -> Attended:
        m = score_spatial_mask(scores, self.score_tau)
        return student * m, teacher * m, None, m


MODES: dict[str, type[nn.Module]] = {
    c.mode: c for c in (NoAttention, StudentAttention, SharedAttention, SharedNormAttention, TeacherGuided, ScoreGuided)
}
if tuple(MODES) != ATTENTION_MODES:  # the names settings are checked against (torch-free, in __init__)
    raise ImportError(f"connectors: attention classes {tuple(MODES)} differ from ATTENTION_MODES {ATTENTION_MODES}")
LEARNED_MODES = tuple(name for name, c in MODES.items() if issubclass(c, Attention))  # with parameters of their own
