"""The feature term ``kd_cwd``: per neck level a channel adapter, optional normalisation and attention, then CWD.

Student features (N, Cs, H, W) are mapped to the teacher width Ct by a train-only 1x1 conv,
optionally standardised per channel (``norm="channel"``, both sides), re-weighted by attention,
then compared with the teacher's features (N, Ct, H, W) by channel-wise distillation. Nothing here
is saved with the student.

Attention modes (the trap: attention trained on both sides by the KD loss alone can switch CWD off,
tests/test_collapse.py):
- ``none``: plain CWD.
- ``shared``: paper-literal; one learnable channel + spatial attention per level applied to
  both teacher and student features. Trained only by the KD loss, it can lower the loss by
  flattening both distributions, i.e. by switching distillation off.
- ``student``: learnable attention on the student side only; teacher features untouched.
- ``shared_norm``: ``shared`` with each mask divided by its mean (channel weights over C,
  spatial mask over H*W), so attention can re-weight but not scale the features to zero.
- ``teacher``: parameter-free masks computed from the detached teacher features, applied
  to both sides (FGD / FBKD style); nothing can learn to collapse them.
- ``score``: a detached spatial mask, 1 + the teacher's class probability (needs the teacher's
  head outputs), applied to both sides: objects weigh up to twice the background.

During training it also accumulates, per level, the mean spatial mask, its normalised entropy
(1 = uniform over positions) and the mean channel weight of the masks applied to the student;
``pop_stats()`` returns the epoch's means (they go to results.csv).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from yolokd.attention import (
    Attention,
    mask_entropy,
    score_spatial_mask,
    teacher_channel_weights,
    teacher_spatial_mask,
)
from yolokd.cfg import CHOICES
from yolokd.losses.cwd import ChannelWiseDivergence
from yolokd.losses.norm import channel_standardize
from yolokd.losses.outputs import Outputs, split_levels

ATTENTION_MODES = ("none", *CHOICES["kd_attn_mode"])
LEARNED_MODES = ("student", "shared", "shared_norm")  # the modes with attention modules of their own
NORMS = CHOICES["kd_norm"]


class FeatureCWD(nn.Module):
    """Adapters + normalisation + attention + CWD over several feature levels; returns the unweighted sum.

    Args:
        student_channels: channels of each student level, e.g. (64, 128, 256) for YOLOv8n.
        teacher_channels: channels of each teacher level, e.g. (256, 512, 512) for YOLOv8l.
        tau: CWD temperature.
        softmax: CWD softmax input, "tau" or "sqrt_hw" (see ``ChannelWiseDivergence``).
        attention: one of ``ATTENTION_MODES``.
        norm: one of ``NORMS``; ``channel`` standardises both maps per channel (MMYOLO).
        spatial_kernel: kernel size of the learnable spatial attention conv.
        channel_reduction: reduction ratio of the learnable channel attention.
        score_tau: temperature of the ``score`` mask (< 1 sharpens).
    """

    def __init__(
        self,
        student_channels: Sequence[int],
        teacher_channels: Sequence[int],
        *,
        tau: float = 0.5,
        softmax: str = "tau",
        attention: str = "none",
        norm: str = "none",
        spatial_kernel: int = 7,
        channel_reduction: int = 16,
        score_tau: float = 1.0,
    ) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(
                f"student has {len(student_channels)} feature levels but teacher has {len(teacher_channels)}"
            )
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.attention_mode, self.norm, self.score_tau = attention, norm, float(score_tau)
        self.needs_head = attention == "score"  # the teacher's class scores
        self.adapters = nn.ModuleList(
            nn.Conv2d(cs, ct, kernel_size=1) if cs != ct else nn.Identity()
            for cs, ct in zip(student_channels, teacher_channels)
        )
        learnable = attention in LEARNED_MODES
        self.attention = nn.ModuleList(
            Attention(ct, spatial_kernel, channel_reduction, normalize=attention == "shared_norm")
            if learnable
            else nn.Identity()
            for ct in teacher_channels
        )
        self.loss = ChannelWiseDivergence(tau, softmax)
        self._stats: Tensor | None = None  # (levels, 4): sums of mask mean, entropy, channel mean; batch count
        self._stat_keys: list[str] = []  # the columns once logged: results.csv needs them every epoch

    def attend(
        self, level: int, student: Tensor, teacher: Tensor, scores: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Apply this level's attention to the (adapted) student and the teacher features."""
        mode = self.attention_mode
        if mode == "none":
            return student, teacher
        if mode == "score":  # a detached spatial mask from the teacher's scores, on both sides; no channel weights
            m = score_spatial_mask(scores, self.score_tau)
            self._record(level, None, m)
            return student * m, teacher * m
        if mode == "teacher":  # detached masks from the teacher's features, on both sides
            w, m = teacher_channel_weights(teacher), teacher_spatial_mask(teacher)
            self._record(level, w, m)
            return student * w * m, teacher * w * m
        w, m = self.attention[level].masks(student)
        self._record(level, w, m)
        student = student * w * m
        return (student, self.attention[level](teacher)) if mode in ("shared", "shared_norm") else (student, teacher)

    @torch.no_grad()
    def _record(self, level: int, w: Tensor | None, m: Tensor) -> None:
        """Accumulate the masks' statistics; ``w=None`` means no channel weights (logged as 1)."""
        if not self.training:
            return
        entropy = mask_entropy(m)  # (N,)
        one = torch.ones_like(entropy[0])
        row = torch.stack([m.float().mean(), entropy.mean(), one if w is None else w.float().mean(), one])
        if self._stats is None or self._stats.device != row.device:
            self._stats = torch.zeros(len(self.adapters), 4, device=row.device)
        self._stats[level] += row

    def pop_stats(self) -> dict[str, float]:
        """The attention statistics averaged since the last call (then reset); empty without attention,
        NaN for an epoch without distillation (``kd_stop``) once they have been logged."""
        if self._stats is None:
            return dict.fromkeys(self._stat_keys, float("nan"))
        sums, self._stats = self._stats.tolist(), None  # one host sync per epoch
        out = {}
        for i, (mask, entropy, chan, n) in enumerate(sums):
            if n:
                out |= {f"attn/l{i}_mask": mask / n, f"attn/l{i}_entropy": entropy / n, f"attn/l{i}_channel": chan / n}
        self._stat_keys = list(out)
        return out

    def forward(self, student: Outputs, teacher: Outputs) -> Tensor:
        """Sum over levels of the CWD between adapted student and teacher features (scalar, float32)."""
        scores = split_levels(teacher.scores, teacher.feats) if self.needs_head else [None] * len(teacher.feats)
        total = student.feats[0].new_zeros((), dtype=torch.float32)
        for i, (s, t) in enumerate(zip(student.feats, teacher.feats, strict=True)):
            s, t = self.adapters[i](s), t.detach()
            if self.norm == "channel":
                s, t = channel_standardize(s), channel_standardize(t)
            s, t = self.attend(i, s, t, scores[i])
            total = total + self.loss(s, t)
        return total
