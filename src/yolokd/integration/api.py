"""``yolokd.distill``: the Python entry point, checked like the command line before any model is built."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ultralytics import YOLO
from ultralytics.cfg import DEFAULT_CFG
from ultralytics.utils import LOGGER

from yolokd.cfg import KD_DEFAULTS, SettingsError, split_settings, with_recipe
from yolokd.integration.models import check_distillable, check_runs
from yolokd.integration.tasks import trainer_for
from yolokd.integration.weights import resolve_weights


def distill(
    student: str | Path = "yolov8n.yaml",
    teacher: str | Path | None = None,
    data: str | Path | None = None,
    method: str | None = None,
    **train_args: Any,
):
    """Train ``student`` on ``data`` under ``teacher`` and return the validation metrics (``DetMetrics``, or the
    task's: ``SegmentMetrics``, ``PoseMetrics``, ``OBBMetrics``).

    The student's task (detect, segment, pose or obb, read from its .yaml or .pt) picks the trainer
    (:func:`.tasks.trainer_for`); the teacher is of the same task, or a detect one for the features only.

    ``method`` is ``kd_method`` (none, cwd, cwd_attn, response, native; default cwd, or the checkpoint's
    when resuming); other yolokd settings (``kd_tau=``,
    ``kd_weight=``, ``kd_cls=``, ...) and any Ultralytics train argument pass through ``train_args``;
    ``recipe=`` presets settings (``cfg.RECIPES``) where none of those gives another: the default recipe the
    benchmark's Adam, lr0 0.001, momentum 0.9; ``recipe="paper"`` the paper's settings. The run folder is where
    ``yolo train`` puts it: ``project=``/``name=``, else under Ultralytics' ``runs_dir`` setting.
    """
    overrides = {"model": str(student), "data": data, **train_args}
    if method is not None:
        overrides.setdefault("kd_method", method)  # an explicit kd_method= in train_args wins, as before
    if teacher is not None:
        overrides["teacher"] = str(teacher)
    overrides = with_recipe(overrides)  # the recipe's settings where no other is given
    kd, rest = split_settings(overrides)  # fail before any model is built
    kd = {k: kd[k] for k in overrides if k in KD_DEFAULTS}  # only those given: resume warns about each
    if not rest.get("data") and not rest.get("resume"):
        raise SettingsError("distill needs data=path/to/data.yaml (a YOLO-format dataset)")
    model = rest.pop("model")
    if str(model).endswith(".pt") and not Path(model).is_file():
        if rest.get("resume"):
            raise SettingsError(f"nothing to resume: '{model}' not found; pass model=path/to/weights/last.pt")
        model = resolve_weights(model, "student")  # yolov8n.pt: found or downloaded as YOLO() would
        if not Path(model).is_file():
            raise SettingsError(
                f"student '{model}' not found; pass an existing .pt or a model .yaml such as yolov8n.yaml"
            )
    yolo = YOLO(model)
    if str(model).endswith(".pt"):
        check_runs(yolo.model, model, (yolo.ckpt or {}).get("version"), "student")
    check_distillable(model, yolo.task)  # a task without a Detect head (classify, ...) is refused
    trainer = trainer_for(yolo.task)
    stride = max(int(yolo.model.stride.max()), 32)
    imgsz = rest.get("imgsz", DEFAULT_CFG.imgsz)
    if isinstance(imgsz, int) and imgsz % stride:
        LOGGER.warning(
            f"yolokd: imgsz={imgsz} is not a multiple of the student's largest stride {stride}; Ultralytics will "
            f"train and validate at imgsz={math.ceil(imgsz / stride) * stride}"
        )
    return yolo.train(trainer=trainer, **rest, **kd)
