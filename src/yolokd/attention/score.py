"""Score-guided spatial attention: a mask from the teacher's own class scores (``kd_attn_mode=score``).

The paper motivates attention as suppressing background noise; FGD (Yang et al., CVPR 2022,
https://arxiv.org/abs/2111.11837) and Ultralytics' native distillation make that precise with the
teacher's predictions. Here the mask at each position is the teacher's highest class probability there,
max_c sigmoid(logit_c / T) (T < 1 sharpens it), divided by its mean over the positions of the image.

The rescaling to mean 1 (FGD's masks have mean 1 too) matters for CWD: multiplying features by a
mask in (0, 1) shrinks every channel's logits and so flattens its spatial distribution, which weakens
the loss whatever the student does (DESIGN.md, "the trap"); a mean-1 mask moves weight from background
to objects instead. It is detached: nothing can learn to lower it.
"""

from __future__ import annotations

from torch import Tensor


def score_spatial_mask(class_logits: Tensor, tau: float = 1.0) -> Tensor:
    """(N, nc, H, W) teacher class logits -> (N, 1, H, W) mask of mean 1 per image, detached, float32."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    m = (class_logits.detach().float() / tau).sigmoid().amax(dim=1, keepdim=True)  # (N, 1, H, W) in (0, 1)
    return m / m.mean(dim=(2, 3), keepdim=True)
