"""The distillation trainers of segment, pose and obb students, and the trainer of each task (``trainer_for``).

Each is :class:`.trainer.DistillationMixin` over Ultralytics' trainer of its task, which builds the task's
model, dataset and loss; the mixin adds the teacher and the distiller and hands validation to the task's own
validator. Their heads subclass Detect, so the features and the detection branch are distilled as for
``DistillationTrainer``; the task's own outputs (masks, keypoints, angles) are trained by its own loss only.
"""

from __future__ import annotations

from ultralytics.models.yolo.obb import OBBTrainer, OBBValidator
from ultralytics.models.yolo.pose import PoseTrainer, PoseValidator
from ultralytics.models.yolo.segment import SegmentationTrainer, SegmentationValidator

from yolokd.cfg import SettingsError
from yolokd.integration.models import TASKS
from yolokd.integration.trainer import DistillationMixin, DistillationTrainer


class SegmentDistillationTrainer(DistillationMixin, SegmentationTrainer):
    """Ultralytics ``SegmentationTrainer`` with distillation from a frozen segment (or detect) teacher."""

    kd_task = "segment"
    validator_class = SegmentationValidator


class PoseDistillationTrainer(DistillationMixin, PoseTrainer):
    """Ultralytics ``PoseTrainer`` with distillation from a frozen pose (or detect) teacher."""

    kd_task = "pose"
    validator_class = PoseValidator


class OBBDistillationTrainer(DistillationMixin, OBBTrainer):
    """Ultralytics ``OBBTrainer`` with distillation from a frozen obb (or detect) teacher."""

    kd_task = "obb"
    validator_class = OBBValidator


TRAINERS: dict[str, type] = {
    t.kd_task: t
    for t in (DistillationTrainer, SegmentDistillationTrainer, PoseDistillationTrainer, OBBDistillationTrainer)
}


def trainer_for(task: str) -> type:
    """The distillation trainer of ``task`` (``YOLO(...).train(trainer=trainer_for(model.task), ...)``)."""
    if task not in TRAINERS:
        raise SettingsError(f"yolokd distils {', '.join(TASKS[:-1])} and {TASKS[-1]} models, not {task} models")
    return TRAINERS[task]
