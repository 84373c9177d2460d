"""The feature distiller: per level a channel adapter, attention and the CWD loss.

Student features (N, Cs, H, W) are mapped to the teacher width Ct by a train-only 1x1
conv, optionally re-weighted by attention, then compared with the teacher's features
(N, Ct, H, W) by channel-wise distillation. Nothing here is saved with the student.

Attention modes (see DESIGN.md, "the trap"):
- ``none``: plain CWD.
- ``shared``: paper-literal; one learnable channel + spatial attention per level applied to
  both teacher and student features. Trained only by the KD loss, it can lower the loss by
  flattening both distributions, i.e. by switching distillation off.
- ``student``: learnable attention on the student side only; teacher features untouched.
- ``teacher``: parameter-free masks computed from the detached teacher features, applied
  to both sides (FGD / FBKD style); nothing can learn to collapse them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from yolokd.attention import ChannelAttention, SpatialAttention, teacher_channel_weights, teacher_spatial_mask
from yolokd.losses import ChannelWiseDivergence

ATTENTION_MODES = ("none", "shared", "student", "teacher")


class Attention(nn.Module):
    """Channel then spatial attention (CBAM order) for one feature level."""

    def __init__(self, channels: int, spatial_kernel: int = 7, channel_reduction: int = 16) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, channel_reduction)
        self.spatial = SpatialAttention(spatial_kernel)

    def forward(self, x: Tensor) -> Tensor:
        x = self.channel(x)
        return self.spatial(x)


class FeatureDistiller(nn.Module):
    """Adapters + attention + CWD over several feature levels.

    Args:
        student_channels: channels of each student level, e.g. (64, 128, 256) for YOLOv8n.
        teacher_channels: channels of each teacher level, e.g. (256, 512, 512) for YOLOv8l.
        tau: CWD temperature.
        weight: multiplier of the summed loss.
        softmax: CWD softmax input, "tau" or "sqrt_hw" (see ``ChannelWiseDivergence``).
        attention: one of ``ATTENTION_MODES``.
        spatial_kernel: kernel size of the learnable spatial attention conv.
        channel_reduction: reduction ratio of the learnable channel attention.
    """

    def __init__(
        self,
        student_channels: Sequence[int],
        teacher_channels: Sequence[int],
        *,
        tau: float = 0.5,
        weight: float = 1.0,
        softmax: str = "tau",
        attention: str = "none",
        spatial_kernel: int = 7,
        channel_reduction: int = 16,
    ) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(
                f"student has {len(student_channels)} feature levels but teacher has {len(teacher_channels)}"
            )
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        self.attention_mode = attention
        self.weight = float(weight)
        self.adapters = nn.ModuleList(
            nn.Conv2d(cs, ct, kernel_size=1) if cs != ct else nn.Identity()
            for cs, ct in zip(student_channels, teacher_channels)
        )
        learnable = attention in ("shared", "student")
        self.attention = nn.ModuleList(
            Attention(ct, spatial_kernel, channel_reduction) if learnable else nn.Identity() for ct in teacher_channels
        )
        self.loss = ChannelWiseDivergence(tau, softmax)

    def attend(self, level: int, student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
        """Apply this level's attention to the (adapted) student and the teacher features."""
        mode = self.attention_mode
        if mode == "shared":
            return self.attention[level](student), self.attention[level](teacher)
        if mode == "student":
            return self.attention[level](student), teacher
        if mode == "teacher":
            mask = teacher_channel_weights(teacher) * teacher_spatial_mask(teacher)  # (N, C, H, W), detached
            return student * mask, teacher * mask
        return student, teacher

    def forward(self, student_feats: Sequence[Tensor], teacher_feats: Sequence[Tensor]) -> dict[str, Tensor]:
        """Return named loss parts: ``kd_loss`` (weighted total) and ``kd_l{i}`` per level (unweighted)."""
        parts: dict[str, Tensor] = {}
        total = student_feats[0].new_zeros((), dtype=torch.float32)
        for i, (s, t) in enumerate(zip(student_feats, teacher_feats, strict=True)):
            s, t = self.attend(i, self.adapters[i](s), t.detach())
            parts[f"kd_l{i}"] = self.loss(s, t)
            total = total + parts[f"kd_l{i}"]
        parts["kd_loss"] = total * self.weight
        return parts
