"""Localization distillation (LD) of the DFL box distributions.

Zheng et al., "Localization Distillation for Dense Object Detection", CVPR 2022,
https://arxiv.org/abs/2102.12252. YOLOv8/YOLO11 heads predict each box side as a distribution
over ``reg_max`` bins (Distribution Focal Loss); LD makes the student's per-side distribution
match the teacher's:

    L = T^2 * KL( softmax(t / T) || softmax(s / T) )   per anchor and side, over the bins,

averaged over the 4 sides and over anchors with the teacher's confidence (max class sigmoid) as
weights. LD's reference code uses T = 10 (``KnowledgeDistillationKLDivLoss``); heads without bins
(reg_max = 1, e.g. YOLO26) have no distribution to distil and are refused before training.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from yolokd.losses.outputs import Outputs, anchor_confidence


def distribution_kl(student: Tensor, teacher: Tensor, reg_max: int, tau: float) -> Tensor:
    """(N, A) tau^2 * KL over bins, mean over the 4 sides, for box logits (N, 4 * reg_max, A)."""
    n, _, a = student.shape
    log_q = F.log_softmax(student.float().view(n, 4, reg_max, a) / tau, dim=2)  # (N, 4, R, A)
    log_p = F.log_softmax(teacher.detach().float().view(n, 4, reg_max, a) / tau, dim=2)
    return (log_p.exp() * (log_p - log_q)).sum(dim=2).mean(dim=1) * tau**2


class BoxDistributionKD(nn.Module):
    """Confidence-weighted LD between teacher and student DFL box distributions (term ``kd_box``).

    Args:
        reg_max: bins per box side (16 for YOLOv8/YOLO11); > 1.
        tau: softmax temperature (> 0); LD uses 10.
    """

    needs_head = True

    def __init__(self, reg_max: int = 16, tau: float = 10.0) -> None:
        super().__init__()
        if reg_max < 2:
            raise ValueError(f"box distillation needs DFL bins (reg_max > 1), got reg_max={reg_max}")
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.reg_max, self.tau = int(reg_max), float(tau)

    def forward(self, student: Outputs, teacher: Outputs) -> Tensor:
        if student.boxes is None or teacher.boxes is None or student.boxes.shape != teacher.boxes.shape:
            raise ValueError("kd_box needs student and teacher box logits of equal shape (N, 4 * reg_max, A)")
        kl = distribution_kl(student.boxes, teacher.boxes, self.reg_max, self.tau)  # (N, A)
        w = anchor_confidence(teacher.scores)  # (N, A)
        return (kl * w).sum() / w.sum().clamp_min(1e-6)
