"""Class-score distillation: the teacher's sigmoid probabilities as soft targets for the student's logits.

Response-level distillation as in Hinton et al. (https://arxiv.org/abs/1503.02531), in the per-class
sigmoid form of YOLO heads, weighted per anchor by the teacher's confidence (cf. Zheng et al.,
"Localization Distillation for Dense Object Detection", CVPR 2022, https://arxiv.org/abs/2102.12252,
which distils class and box responses on the same anchors).

Per anchor a and class c, with p = sigmoid(t) (teacher) and q = sigmoid(s) (student), the Bernoulli KL

    KL(p || q) = p (log p - log q) + (1 - p) (log(1 - p) - log(1 - q))

equals BCE(s, p) - H(p): same gradient as BCE against soft targets, but 0 when the student matches.
It is summed over classes and averaged over anchors with weights w_a = max_c p(a, c), so background
anchors the teacher is sure about weigh little. Float32 throughout.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from yolokd.losses.outputs import Outputs, anchor_confidence


def bernoulli_kl(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Elementwise KL(sigmoid(t) || sigmoid(s)) for logits of any equal shape (float32, teacher detached)."""
    s, t = student_logits.float(), teacher_logits.detach().float()
    p = t.sigmoid()
    return p * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p) * (F.logsigmoid(-t) - F.logsigmoid(-s))


class ClassScoreKD(nn.Module):
    """Confidence-weighted Bernoulli KL between teacher and student class scores (term ``kd_cls``)."""

    needs_head = True  # the teacher's class logits come from its detection head

    def forward(self, student: Outputs, teacher: Outputs) -> Tensor:
        if student.scores is None or teacher.scores is None or student.scores.shape != teacher.scores.shape:
            raise ValueError("kd_cls needs student and teacher class scores of equal shape (N, nc, A)")
        kl = bernoulli_kl(student.scores, teacher.scores).sum(dim=1)  # (N, A)
        w = anchor_confidence(teacher.scores)  # (N, A)
        return (kl * w).sum() / w.sum().clamp_min(1e-6)
