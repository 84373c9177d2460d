"""Score-guided spatial attention: a mask from the teacher's own class scores (``kd_attn_mode=score``).

The paper motivates attention as suppressing background noise; FGD (Yang et al., CVPR 2022,
https://arxiv.org/abs/2111.11837) and Ultralytics' native distillation make that precise with the
teacher's predictions. Here the mask at each position is 1 + the teacher's highest class probability
there, 1 + max_c sigmoid(logit_c / T) (T < 1 sharpens it): background keeps weight 1, a position the
teacher is sure holds an object gets up to 2.

Why not the probability alone, or rescaled to mean 1: multiplying features by a mask in (0, 1) shrinks
every channel's logits and flattens its spatial distribution, which weakens CWD whatever the student
does (the trap, losses/feature.py); rescaling a sparse mask to mean 1 does the opposite — on the tree tiles the
teacher's P3 probabilities average 0.056 with peaks 16x the mean, so objects' logits grew up to 16x
(32x at tau 0.5), CWD's distributions became near one-hot and the loss drowned the detection loss
(one seed: mAP50 0.215 against 0.370 for the plain student). A bounded 1..2 weight emphasises
objects without either failure. The mask is detached: nothing can learn to lower it.
"""

from __future__ import annotations

from torch import Tensor


def score_spatial_mask(class_logits: Tensor, tau: float = 1.0) -> Tensor:
    """(N, nc, H, W) teacher class logits -> (N, 1, H, W) mask in (1, 2), detached, float32."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    return 1 + (class_logits.detach().float() / tau).sigmoid().amax(dim=1, keepdim=True)
