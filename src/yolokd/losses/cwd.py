"""Channel-wise distillation (CWD) loss.

Shu et al., "Channel-wise Knowledge Distillation for Dense Prediction", ICCV 2021,
https://arxiv.org/abs/2011.13256.

Each channel's H*W activations become a distribution over spatial positions
(softmax at temperature tau); the loss is KL(teacher || student) per channel,
scaled by tau**2 and averaged over N*C. The softmax and KL always run in float32:
fp16 logits divided by a small tau overflow.

Paper vs. reference code: the yolokd paper (Wang et al., eq. 1) prints the softmax
input as S / sqrt(H*W) instead of S / tau. The cited CWD method (and MMRazor) use
S / tau, which is our default; ``softmax="sqrt_hw"`` selects the printed form
(the tau**2 factor is kept, as printed).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from yolokd.losses import SOFTMAX_INPUTS


class ChannelWiseDivergence(nn.Module):
    """CWD loss between a student and a teacher feature map of the same shape.

    Args:
        tau: softmax temperature (> 0). The paper uses 0.5; CWD / MMRazor default to 1.0.
        softmax: ``"tau"`` divides logits by tau (CWD), ``"sqrt_hw"`` by sqrt(H*W) (paper eq. 1 as printed).
    """

    def __init__(self, tau: float = 1.0, softmax: str = "tau") -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if softmax not in SOFTMAX_INPUTS:
            raise ValueError(f"softmax must be one of {SOFTMAX_INPUTS}, got {softmax!r}")
        self.tau = float(tau)
        self.softmax = softmax

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Return the scalar loss for ``student`` and ``teacher`` of shape (N, C, H, W).

        The teacher is detached: no gradient ever flows into it.
        """
        if student.shape != teacher.shape:
            raise ValueError(
                f"CWD needs equal shapes, got student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}"
            )
        n, c, h, w = student.shape
        scale = self.tau if self.softmax == "tau" else math.sqrt(h * w)
        log_p_s = F.log_softmax(student.float().reshape(n * c, h * w) / scale, dim=1)  # (N*C, H*W)
        log_p_t = F.log_softmax(teacher.detach().float().reshape(n * c, h * w) / scale, dim=1)  # (N*C, H*W)
        kl = F.kl_div(log_p_s, log_p_t, reduction="sum", log_target=True)  # sum over n, c, i of p_T log(p_T / p_S)
        return kl * self.tau**2 / (n * c)
