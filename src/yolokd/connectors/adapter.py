"""The channel adapter: maps a student level's width to the teacher's (paper §3.2; MMRazor's ConvModuleConnector).

Student and teacher widths differ (YOLOv8n 64/128/256 vs YOLOv8l 256/512/512); a train-only 1x1 conv per
level makes them comparable, and is dropped with the distiller: the student keeps its own architecture.
"""

from __future__ import annotations

from torch import nn


def adapter(student_channels: int, teacher_channels: int) -> nn.Module:
    """A 1x1 conv (N, Cs, H, W) -> (N, Ct, H, W), or the identity when the widths are equal."""
    if student_channels == teacher_channels:
        return nn.Identity()
    return nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
