"""yolokd: attention-enhanced channel-wise knowledge distillation for Ultralytics YOLO.

``import yolokd`` leaves the process as it was: Ultralytics runs with the user's environment and settings
(online or ``YOLO_OFFLINE=1``, their ``YOLO_CONFIG_DIR``, ``runs_dir`` and loggers). The Ultralytics-facing
names (``distill``, ``DistillationTrainer``, the segment, pose and obb trainers and ``trainer_for``) are imported
lazily, so the pure-torch parts (``yolokd.losses``, ``yolokd.attention``, ``yolokd.distiller``) load without
Ultralytics. An Ultralytics release outside the supported range (:mod:`yolokd._compat`) fails the import at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

from yolokd._compat import check_ultralytics

__version__ = "0.2.0"
TASK_NAMES = ("SegmentDistillationTrainer", "PoseDistillationTrainer", "OBBDistillationTrainer", "trainer_for")
__all__ = ["DistillationTrainer", *TASK_NAMES, "distill", "__version__"]

try:  # one line naming the supported range, before anything could fail deep inside Ultralytics
    check_ultralytics()
except ImportError as e:
    if Path(sys.argv[0]).name == "yolokd":  # the command line: the line alone, no traceback
        sys.exit(f"yolokd: error: {e}")
    raise


def __getattr__(name: str):
    if name == "distill":
        from yolokd.integration.api import distill

        return distill
    if name == "DistillationTrainer":
        from yolokd.integration.trainer import DistillationTrainer

        return DistillationTrainer
    if name in TASK_NAMES:
        from yolokd.integration import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'yolokd' has no attribute {name!r}")
