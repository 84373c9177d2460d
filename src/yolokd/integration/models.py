"""The models yolokd distils between, as Ultralytics builds them: the detection head, the frozen teacher and how it
runs, what the student's training-mode predictions hold, and the checks that a teacher fits a student and a dataset.

Every use of Ultralytics' model internals (``load_checkpoint``, the Detect head's ``cv2``/``cv3``/``reg_max``,
its ``end2end`` switch and its training-mode output dict) is here. The heads of segment, pose and obb models
(``Segment``, ``Pose``, ``OBB`` and their YOLO26 variants) subclass ``Detect``: the same inputs, the same
detection branch ``cv2``/``cv3`` and the same ``feats``/``scores``/``boxes`` in their training output, beside
their own (mask coefficients and prototypes, keypoints, angles), which yolokd does not distil.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.modules.head import OBB, Detect, Pose, Segment, YOLOESegment
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils import LOGGER

from yolokd import methods
from yolokd.cfg import SettingsError
from yolokd.integration.weights import resolve_weights
from yolokd.losses.outputs import Outputs
from yolokd.methods import Levels
from yolokd.recorder import FeatureRecorder, input_channels, probe_features

TASKS = ("detect", "segment", "pose", "obb")  # Ultralytics' tasks whose head is a Detect (or subclasses it)


def detect_head(model: nn.Module, role: str) -> nn.Module:
    """The model's Detect head (its last layer; a Segment, Pose or OBB head is one); a clear error otherwise."""
    head = model.model[-1] if isinstance(getattr(model, "model", None), nn.Sequential) else None
    if not isinstance(head, Detect):
        raise SettingsError(
            f"the {role} is not an Ultralytics {', '.join(TASKS[:-1])} or {TASKS[-1]} model "
            f"(its last layer is {type(head).__name__}, not a Detect head)"
        )
    return head


HEAD_TASKS = (((Segment, YOLOESegment), "segment"), (Pose, "pose"), (OBB, "obb"))  # any other Detect: detect


def model_task(model: nn.Module, role: str = "teacher") -> str:
    """The task of a model, read from its head's class (a checkpoint's ``train_args`` may lack the task)."""
    head = detect_head(model, role)
    return next((task for kinds, task in HEAD_TASKS if isinstance(head, kinds)), "detect")


def _a(task: str) -> str:
    """``task`` with its article: "a segment", "an obb"."""
    return f"{'an' if task[0] in 'aeiou' else 'a'} {task}"


def check_distillable(model: Any, task: str) -> None:
    """Refuse a student ``model`` of a task whose head is no Detect (classify, semantic, depth)."""
    if task not in TASKS:
        raise SettingsError(
            f"yolokd distils {', '.join(TASKS[:-1])} and {TASKS[-1]} models; the student '{model}' is {_a(task)} model"
        )


def check_student_task(model: Any, task: str, trains: str, trainer: str) -> None:
    """Refuse a student of ``task`` in a trainer (class name ``trainer``) that trains ``trains`` models."""
    check_distillable(model, task)
    if task != trains:
        raise SettingsError(
            f"the student '{model}' is {_a(task)} model, but {trainer} trains {trains} models; "
            f"pass trainer=yolokd.trainer_for('{task}')"
        )


def check_tasks(teacher: str, student: str, kd: Mapping[str, Any]) -> None:
    """Refuse a teacher of another task than the student's, except a detect one for a segment, pose or obb student
    or the reverse, which distils the features only (one line says so).

    Every one of these heads is a Detect with its own branch added: between a detect model and another, the features
    feed the part both share (boxes and classes). Between two other tasks the teacher's features also serve a
    branch the student lacks (masks, keypoints, angles), while the student's own has no counterpart: refused, as
    unmeasured. Across tasks the class and box terms (and the score mask, and native distillation) are refused:
    their targets come from the other task's head (an obb head's DFL sides are in the rotated box's frame), and
    whether they help there is unmeasured.
    """
    if teacher == student:
        return
    pair = f"teacher '{kd['teacher']}' is {_a(teacher)} model and the student {_a(student)} model"
    if "detect" not in (teacher, student):
        raise SettingsError(
            f"{pair}; yolokd distils between models of one task, or between a detect model and a segment, pose or "
            f"obb one (features only): use {_a(student)} teacher (or a detect one, for the features)"
        )
    if not methods.distils(kd["kd_method"]):
        raise SettingsError(f"{pair}; native distillation reads the teacher's class scores: use {_a(student)} teacher")
    if methods.needs_head(kd):
        raise SettingsError(
            f"{pair}; across tasks yolokd distils the features only, but kd_cls, kd_box and kd_attn_mode=score read "
            f"the teacher's head: use kd_cls=0 kd_box=0 and another kd_attn_mode, or {_a(student)} teacher"
        )
    LOGGER.info(f"yolokd: {pair}: distilling the features entering the heads only (kd_cwd)")


def check_pseudo_tasks(teacher: str, student: str, path: str) -> None:
    """``kd_method=pseudo`` writes a detect teacher's boxes as a detect student's labels; other tasks are refused
    (their labels are masks, keypoints or rotated boxes, which a detect teacher does not give)."""
    for role, task in ((f"teacher '{path}'", teacher), ("student", student)):
        if task != "detect":
            raise SettingsError(
                f"kd_method=pseudo writes a detect teacher's boxes as labels for a detect student; the {role} is "
                f"{_a(task)} model: use detect models, or distil with kd_method=cwd"
            )


def load_teacher(path: str | Path, device: torch.device, role: str = "teacher") -> nn.Module:
    """Load a frozen, fused, eval-mode teacher from a checkpoint (the file is only read; a bare name such as
    ``yolov8l.pt`` is found or downloaded as Ultralytics does, :func:`.weights.resolve_weights`)."""
    path = resolve_weights(path, role)
    try:
        teacher, ckpt = load_checkpoint(path, device=device)
    except Exception as e:  # a corrupt file or an unsupported pickle
        raise SettingsError(f"{role} '{path}' could not be loaded as an Ultralytics checkpoint: {e}") from e
    check_runs(teacher, path, (ckpt or {}).get("version"), role)
    return prepare_teacher(teacher, role)


def check_runs(model: nn.Module, path: str | Path, version: str | None, role: str) -> None:
    """Run ``model`` once on a tiny input. A checkpoint pickled by another Ultralytics release or a fork can
    load and then fail inside its forward (a module whose attributes changed, e.g. YOLO12's ``AAttn``); that
    becomes one message naming the file, both versions and the fix, instead of a traceback from inside it."""
    from ultralytics import __version__ as installed

    was_training = model.training
    try:
        with torch.no_grad():
            shape = (1, input_channels(model), 64, 64)
            model.eval()(torch.zeros(shape, device=next(model.parameters()).device))
    except Exception as e:
        cfg = getattr(model, "yaml", None) or {}
        name = Path(cfg.get("yaml_file", "its-model.yaml")).name
        try:  # how much of it a model built by the installed Ultralytics would take
            fresh = type(model)(cfg=dict(cfg), nc=cfg.get("nc"), verbose=False).state_dict()
            old = model.state_dict()
            n = sum(k in fresh and fresh[k].shape == v.shape for k, v in old.items())
            transfer = f"{n} of {len(old)} tensors transfer"
        except Exception:
            transfer = f"note that its YAML does not build with Ultralytics {installed} either"
        raise SettingsError(
            f"{role} '{path}' loads but does not run with the installed Ultralytics {installed} (it was written by "
            f"Ultralytics {version or 'of an unknown version'}, a different release or a fork): "
            f"{type(e).__name__}: {e}. Fix: re-export it with Ultralytics {installed}, or rebuild it from its YAML "
            f"and load its weights, YOLO('{name}').load('{path}') ({transfer}), then fine-tune"
        ) from None
    finally:
        model.train(was_training)


def prepare_teacher(teacher: nn.Module, role: str = "teacher") -> nn.Module:
    """Make a detection model the frozen teacher yolokd runs: Conv+BN fused, eval mode, fp32, no grad.

    An end-to-end head (YOLOv10, YOLO26) keeps its one-to-many branches ``cv2``/``cv3``, which the terms read
    (dense, like the student's that they are compared with): fusion drops the branch the head does not infer
    with, and a model validated with ``nms=False`` was saved inferring with its one-to-one branches."""
    head = detect_head(teacher, role)
    if getattr(head, "one2one_cv2", None) is not None and head.cv2 is not None:
        head.end2end = False  # fusion below then removes the one-to-one branches, not the one-to-many ones
    teacher = teacher.fuse(verbose=False).eval().float()
    teacher.requires_grad_(False)
    return teacher


def student_outputs(preds: Any) -> Outputs:
    """The training-mode Detect predictions (8.4.x: a dict, or a tuple in eval) as ``Outputs``."""
    if isinstance(preds, tuple):
        preds = preds[1]
    if "one2many" in preds:  # end-to-end heads (YOLOv10, YOLO26): distil the dense one-to-many branch
        preds = preds["one2many"]
    return Outputs(list(preds["feats"]), preds.get("scores"), preds.get("boxes"))


class TeacherRunner:
    """Runs the frozen teacher up to its Detect head's inputs and, only when a term needs them, the head's
    class and box branches (``cv3``/``cv2``, the one-to-many branches of every Detect since YOLOv8)."""

    def __init__(self, model: nn.Module, need_head: bool) -> None:
        self.model, self.need_head = model, need_head
        self.head = detect_head(model, "teacher")
        self.recorder = FeatureRecorder(model, self.head)

    def __call__(self, img: torch.Tensor) -> Outputs:
        feats = self.recorder(img)
        if not self.need_head:
            return Outputs(feats)
        h, n = self.head, img.shape[0]
        boxes = torch.cat([h.cv2[i](f).view(n, 4 * h.reg_max, -1) for i, f in enumerate(feats)], dim=-1)
        scores = torch.cat([h.cv3[i](f).view(n, h.nc, -1) for i, f in enumerate(feats)], dim=-1)
        return Outputs(feats, scores, boxes)


def check_teacher(
    teacher: nn.Module, kd: Mapping[str, Any], names: list[str], channels: int, task: str = "detect"
) -> None:
    """Refuse a teacher that does not fit the dataset (its ``names`` and image ``channels``) or a student of
    ``task`` (:func:`check_tasks`; ``kd_method=pseudo``: :func:`check_pseudo_tasks`) for settings ``kd``."""
    path, pseudo = kd["teacher"], methods.METHODS[kd["kd_method"]].by == "pseudo"
    if pseudo:
        check_pseudo_tasks(model_task(teacher), task, path)
    check_tasks(model_task(teacher), task, kd)
    if (theirs := list(teacher.names.values())) != names:
        msg = f"teacher '{path}' was trained on classes {theirs}, but the dataset has {names}"
        if not methods.distils(kd["kd_method"]):  # native distils the teacher's class scores; pseudo labels with them
            why = "native distillation uses the teacher's class scores"
            why = "kd_method=pseudo writes its detections as labels" if pseudo else why
            raise SettingsError(
                f"{msg}; {why}, so train the "
                "teacher on this dataset (or use kd_method=cwd with kd_allow_class_mismatch=True)"
            )
        if methods.needs_head(kd):
            raise SettingsError(
                f"{msg}; kd_cls, kd_box and kd_attn_mode=score use the teacher's class scores, so train the "
                "teacher on this dataset (or distil features only: kd_cls=0 kd_box=0 and another kd_attn_mode)"
            )
        if not kd["kd_allow_class_mismatch"]:
            raise SettingsError(
                f"{msg}; train the teacher on this dataset, or pass kd_allow_class_mismatch=True "
                f"to distil its features anyway"
            )
        LOGGER.warning(f"yolokd: {msg}; distilling features only, as kd_allow_class_mismatch=True")
    if methods.needs_head(kd) and detect_head(teacher, "teacher").cv2 is None:
        raise SettingsError(
            f"teacher '{path}' was saved fused for end-to-end inference, without the one-to-many head branches "
            "that kd_cls, kd_box and kd_attn_mode=score read; use its training checkpoint (last.pt or best.pt), "
            "or distil features only: kd_cls=0 kd_box=0 and another kd_attn_mode"
        )
    if (theirs := input_channels(teacher)) != channels:
        raise SettingsError(
            f"teacher '{path}' takes {theirs}-channel images, but the dataset has channels: {channels}; "
            "train the teacher on this dataset (or one with the same channels)"
        )


def probe_levels(student: nn.Module, teacher: nn.Module, kd_box: float) -> Levels:
    """The channels of each level entering both Detect heads and their DFL bins; refuses levels of other strides,
    and ``kd_box`` where a head has no bins or the bins differ."""
    imgsz = 4 * max(int(student.stride.max()), int(teacher.stride.max()), 32)
    s_head, t_head = detect_head(student, "student"), detect_head(teacher, "teacher")
    s_shapes, t_shapes = probe_features(student, s_head, imgsz), probe_features(teacher, t_head, imgsz)
    if len(s_shapes) != len(t_shapes) or any(s[2:] != t[2:] for s, t in zip(s_shapes, t_shapes)):
        raise SettingsError(
            f"teacher and student feature levels differ: student {[tuple(s[1:]) for s in s_shapes]} vs "
            f"teacher {[tuple(t[1:]) for t in t_shapes]} (C, H, W at {imgsz}px); use a teacher whose "
            "Detect head sees the same strides (e.g. no P6 teacher for a P5 student)"
        )
    if kd_box > 0:
        for role, head in (("student", s_head), ("teacher", t_head)):
            if head.reg_max < 2:
                raise SettingsError(
                    f"kd_box distils DFL box distributions, but the {role}'s head predicts boxes directly "
                    f"(reg_max={head.reg_max}, e.g. YOLO26); use kd_box=0 (kd_cls and kd_cwd still work)"
                )
        if s_head.reg_max != t_head.reg_max:
            raise SettingsError(
                f"kd_box needs the same DFL bins in both heads: student reg_max={s_head.reg_max}, "
                f"teacher reg_max={t_head.reg_max}; use kd_box=0"
            )
    return Levels([s[1] for s in s_shapes], [t[1] for t in t_shapes], s_head.reg_max)
