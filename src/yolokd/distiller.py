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
- ``shared_norm``: ``shared`` with each mask divided by its mean (channel weights over C,
  spatial mask over H*W), so attention can re-weight but not scale the features to zero.
- ``teacher``: parameter-free masks computed from the detached teacher features, applied
  to both sides (FGD / FBKD style); nothing can learn to collapse them.

During training the distiller also accumulates, per level, the mean spatial mask, its
normalised entropy (1 = uniform over positions) and the mean channel weight of the masks
applied to the student; ``pop_stats()`` returns the epoch's means (they go to results.csv).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from yolokd.attention import (
    ChannelAttention,
    SpatialAttention,
    mask_entropy,
    teacher_channel_weights,
    teacher_spatial_mask,
)
from yolokd.losses import ChannelWiseDivergence

ATTENTION_MODES = ("none", "shared", "shared_norm", "student", "teacher")


class Attention(nn.Module):
    """Channel then spatial attention (CBAM order) for one feature level; ``normalize`` rescales masks to mean 1."""

    def __init__(self, channels: int, spatial_kernel: int = 7, channel_reduction: int = 16, normalize: bool = False):
        super().__init__()
        self.channel = ChannelAttention(channels, channel_reduction)
        self.spatial = SpatialAttention(spatial_kernel)
        self.normalize = normalize

    def masks(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Channel weights (N, C, 1, 1) and the spatial mask (N, 1, H, W) for features x (N, C, H, W)."""
        w = self.channel.weights(x)
        if self.normalize:
            w = w / w.mean(dim=1, keepdim=True)
        m = self.spatial.mask(x * w)
        if self.normalize:
            m = m / m.mean(dim=(2, 3), keepdim=True)
        return w, m

    def forward(self, x: Tensor) -> Tensor:
        w, m = self.masks(x)
        return x * w * m


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
        learnable = attention in ("shared", "shared_norm", "student")
        self.attention = nn.ModuleList(
            Attention(ct, spatial_kernel, channel_reduction, normalize=attention == "shared_norm")
            if learnable
            else nn.Identity()
            for ct in teacher_channels
        )
        self.loss = ChannelWiseDivergence(tau, softmax)
        self._stats: Tensor | None = None  # (levels, 4): sums of mask mean, entropy, channel mean; batch count

    def attend(self, level: int, student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
        """Apply this level's attention to the (adapted) student and the teacher features."""
        mode = self.attention_mode
        if mode == "none":
            return student, teacher
        if mode == "teacher":
            w, m = teacher_channel_weights(teacher), teacher_spatial_mask(teacher)  # detached
            self._record(level, w, m)
            return student * w * m, teacher * w * m
        w, m = self.attention[level].masks(student)
        self._record(level, w, m)
        student = student * w * m
        return (student, self.attention[level](teacher)) if mode in ("shared", "shared_norm") else (student, teacher)

    @torch.no_grad()
    def _record(self, level: int, w: Tensor, m: Tensor) -> None:
        if not self.training:
            return
        entropy = mask_entropy(m)  # (N,)
        row = torch.stack([m.float().mean(), entropy.mean(), w.float().mean(), torch.ones_like(entropy[0])])
        if self._stats is None or self._stats.device != row.device:
            self._stats = torch.zeros(len(self.adapters), 4, device=row.device)
        self._stats[level] += row

    def pop_stats(self) -> dict[str, float]:
        """The attention statistics averaged since the last call (then reset); empty without attention."""
        if self._stats is None:
            return {}
        sums, self._stats = self._stats.tolist(), None  # one host sync per epoch
        out = {}
        for i, (mask, entropy, chan, n) in enumerate(sums):
            if n:
                out |= {f"attn/l{i}_mask": mask / n, f"attn/l{i}_entropy": entropy / n, f"attn/l{i}_channel": chan / n}
        return out

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
