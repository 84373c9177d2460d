"""The distillation weight over epochs (``kd_schedule``, ``kd_stop``).

- ``constant``: the full weight for every distilling epoch (the paper, CWD, MMRazor).
- ``cosine``: from the full weight down to ``COSINE_FLOOR`` of it at the last distilling epoch, as
  DAMO-YOLO decays its distillation weight (cosine, 1 -> 0.1): early on the student learns from the
  teacher, later mostly from the labels.
- ``kd_stop``: the last fraction of epochs trains without distillation (scale 0; MMYOLO's RTMDet
  distillation stops for its last ~7 % of epochs), so the student settles on the detection loss alone.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")
COSINE_FLOOR = 0.1  # DAMO-YOLO's end value


def kd_scale(epoch: int, epochs: int, schedule: str = "constant", stop: float = 0.0) -> float:
    """Multiplier of every distillation weight in ``epoch`` (0-based) of ``epochs``: in [0, 1]."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not 0.0 <= stop < 1.0:
        raise ValueError(f"stop must be in [0, 1), got {stop}")
    active = epochs - round(stop * epochs)  # epochs that distil
    if epoch >= active:
        return 0.0
    if schedule == "constant" or active <= 1:
        return 1.0
    return COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * epoch / (active - 1)))
