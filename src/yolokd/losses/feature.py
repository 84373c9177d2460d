"""The feature term ``kd_cwd``: per neck level the connectors (adapter, normalisation, attention), then CWD.

Student features (N, Cs, H, W) are mapped to the teacher width Ct by a train-only 1x1 conv
(:mod:`yolokd.connectors.adapter`), optionally standardised per channel on both sides
(:mod:`yolokd.connectors.norm`), re-weighted by the attention mode (:mod:`yolokd.connectors.attention`, where
the modes and the trap they avoid are described), then compared with the teacher's features (N, Ct, H, W) by
channel-wise distillation (:mod:`yolokd.losses.cwd`). Nothing here is saved with the student.

During training it also accumulates, per level, the mean spatial mask, its normalised entropy
(1 = uniform over positions) and the mean channel weight of the masks applied to the student;
``pop_stats()`` returns the epoch's means (they go to results.csv).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from yolokd.attention import mask_entropy
from yolokd.connectors.adapter import adapter
from yolokd.connectors.attention import MODES
from yolokd.connectors.norm import NORMS
from yolokd.losses.cwd import ChannelWiseDivergence
from yolokd.losses.outputs import Outputs, split_levels


class FeatureCWD(nn.Module):
    """Adapters + normalisation + attention + CWD over several feature levels; returns the unweighted sum.

    Args:
        student_channels: channels of each student level, e.g. (64, 128, 256) for YOLOv8n.
        teacher_channels: channels of each teacher level, e.g. (256, 512, 512) for YOLOv8l.
        tau: CWD temperature.
        softmax: CWD softmax input, "tau" or "sqrt_hw" (see ``ChannelWiseDivergence``).
        attention: an attention mode, a key of ``connectors.attention.MODES``.
        norm: a key of ``connectors.norm.NORMS``; ``channel`` standardises both maps per channel (MMYOLO).
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
        if attention not in MODES:
            raise ValueError(f"attention must be one of {tuple(MODES)}, got {attention!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {tuple(NORMS)}, got {norm!r}")
        self.attention_mode, self.norm = attention, NORMS[norm]
        self.needs_head = MODES[attention].needs_scores  # the teacher's class scores
        self.adapters = nn.ModuleList(adapter(cs, ct) for cs, ct in zip(student_channels, teacher_channels))
        options = dict(spatial_kernel=spatial_kernel, channel_reduction=channel_reduction, score_tau=score_tau)
        self.attention = nn.ModuleList(MODES[attention](ct, **options) for ct in teacher_channels)
        self.loss = ChannelWiseDivergence(tau, softmax)
        self._stats: Tensor | None = None  # (levels, 4): sums of mask mean, entropy, channel mean; batch count
        self._stat_keys: list[str] = []  # the columns once logged: results.csv needs them every epoch

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
            s, t = self.norm(self.adapters[i](s)), self.norm(t.detach())
            s, t, w, m = self.attention[i](s, t, scores[i])
            if m is not None:
                self._record(i, w, m)
            total = total + self.loss(s, t)
        return total
