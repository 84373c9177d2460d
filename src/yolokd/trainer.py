"""The Ultralytics integration: a DetectionTrainer that distils a frozen teacher into the student.

Every call into Ultralytics 8.4.190 internals lives in this module. How it plugs in:
- ``__init__``: yolokd settings are split off and validated, then stored on ``self.args``, so
  they reach ``args.yaml``, checkpoints' ``train_args`` (plain strings and floats) and the
  DDP workers, which Ultralytics rebuilds from ``type(trainer)`` and ``vars(trainer.args)``.
- ``set_model_attributes`` (student on its device, before the optimizer exists): load and
  freeze the teacher, probe both models' detection-head inputs, build the distiller.
- ``build_optimizer``: the distiller gets its own param group, so warm-up and the LR
  schedule drive it; ``optimizer_step`` averages its gradients across DDP ranks.
- ``_setup_train``: after Ultralytics has built the EMA, the student's criterion is wrapped
  to add ``kd_loss``. The EMA, and so every checkpoint, never sees teacher or distiller.
- ``save_model``: the distiller's state goes to ``weights/kd_last.pt`` beside ``last.pt``,
  which ``resume=True`` reads back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from ultralytics import YOLO
from ultralytics.cfg import DEFAULT_CFG
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator
from ultralytics.nn.modules.head import Detect
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils import LOGGER, RANK, YAML, IterableSimpleNamespace
from ultralytics.utils.torch_utils import unwrap_model

from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings, split_settings
from yolokd.distiller import FeatureDistiller
from yolokd.recorder import FeatureRecorder, probe_features

KD_STATE = "kd_last.pt"  # distiller state, saved beside last.pt


def detect_head(model: nn.Module, role: str) -> nn.Module:
    """The model's detection head (its last layer); a clear error if the model is not a detector."""
    head = model.model[-1] if isinstance(getattr(model, "model", None), nn.Sequential) else None
    if not isinstance(head, Detect):
        raise SettingsError(
            f"the {role} is not an Ultralytics detection model (its last layer is {type(head).__name__})"
        )
    return head


def load_teacher(path: str | Path, device: torch.device) -> nn.Module:
    """Load a frozen, fused, eval-mode teacher from a checkpoint (the file is only read)."""
    try:
        teacher, _ = load_checkpoint(path, device=device)
    except Exception as e:  # a corrupt file or an unsupported pickle
        raise SettingsError(f"teacher '{path}' could not be loaded as an Ultralytics checkpoint: {e}") from e
    detect_head(teacher, "teacher")
    teacher = teacher.fuse(verbose=False).eval().float()
    teacher.requires_grad_(False)
    return teacher


def student_features(preds: Any) -> list[torch.Tensor]:
    """The P3/P4/P5 maps a training-mode Detect head returns with its predictions."""
    if isinstance(preds, tuple):
        preds = preds[1]
    if "one2many" in preds:  # end-to-end heads (YOLOv10, YOLO26)
        preds = preds["one2many"]
    return preds["feats"]


def average_gradients(params: list[nn.Parameter]) -> None:
    """All-reduce and average the gradients of ``params`` over the process group (no-op without one).

    Train-only modules live outside the DDP-wrapped student, so DDP does not do this for them.
    Missing gradients count as zeros so every rank reduces the same flat buffer.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2 or not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])  # one collective for all modules
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
        offset += p.numel()


class KDCriterion:
    """Wraps the student's detection criterion; appends the distillation loss as ``kd_loss``."""

    def __init__(self, base: Any, teacher: FeatureRecorder, distiller: FeatureDistiller) -> None:
        self.base, self.teacher, self.distiller = base, teacher, distiller

    def __call__(self, preds: Any, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, items = self.base(preds, batch)
        if self.teacher.model.training:  # nothing should switch it, but the teacher must stay in eval mode
            self.teacher.model.eval()
        with torch.no_grad():
            teacher_feats = self.teacher(batch["img"])  # the same augmented batch the student sees
        kd = self.distiller(student_features(preds), teacher_feats)["kd_loss"]
        batch_size = batch["img"].shape[0]  # base losses are scaled by batch size too
        return torch.cat([loss, (kd * batch_size).reshape(1).to(loss.dtype)]), {**items, "kd_loss": kd.detach()}

    def update(self) -> None:
        """Forward Ultralytics' end-of-epoch hook to the wrapped criterion."""
        if hasattr(self.base, "update"):
            self.base.update()


class DistillationTrainer(DetectionTrainer):
    """Ultralytics ``DetectionTrainer`` with feature distillation from a frozen teacher.

    Usable as ``YOLO("yolov8n.yaml").train(trainer=DistillationTrainer, teacher="t.pt", data=..., kd_method="cwd")``.
    """

    def __init__(self, cfg=DEFAULT_CFG, overrides: dict | None = None, _callbacks: dict | None = None) -> None:
        kd, overrides = split_settings(dict(overrides or {}))
        if kd["kd_method"] == "native":
            overrides["distill_model"] = kd["teacher"]
        super().__init__(cfg, overrides, _callbacks)
        if self.resume:  # the interrupted run's own settings win, as for Ultralytics' arguments
            saved = {k: getattr(self.args, k) for k in KD_DEFAULTS if hasattr(self.args, k)}
            kd = check_kd_settings(saved or kd)
        vars(self.args).update(kd)
        if self.device.type == "cpu":  # Ultralytics leaves one core idle; all cores measured 1.7x faster on 2 cores
            torch.set_num_threads(min(8, os.cpu_count() or 1))
        if RANK in {-1, 0}:
            YAML.save(self.save_dir / "args.yaml", vars(self.args))  # again, now with the yolokd settings
        self.teacher: nn.Module | None = None
        self.distiller: FeatureDistiller | None = None

    @property
    def feature_kd(self) -> bool:
        """True for the methods yolokd runs itself (cwd, cwd_attn)."""
        return self.args.kd_method in ("cwd", "cwd_attn")

    def set_model_attributes(self) -> None:
        """Ultralytics' hook before the optimizer is built; also builds teacher and distiller once."""
        super().set_model_attributes()
        if self.feature_kd and self.distiller is None:
            self._setup_distiller()

    def _setup_distiller(self) -> None:
        a = self.args
        self.teacher = load_teacher(a.teacher, self.device)
        student = unwrap_model(self.model)
        imgsz = 4 * max(int(student.stride.max()), int(self.teacher.stride.max()), 32)
        s_shapes = probe_features(student, detect_head(student, "student"), imgsz)
        t_shapes = probe_features(self.teacher, detect_head(self.teacher, "teacher"), imgsz)
        if len(s_shapes) != len(t_shapes) or any(s[2:] != t[2:] for s, t in zip(s_shapes, t_shapes)):
            raise SettingsError(
                f"teacher and student feature levels differ: student {[tuple(s[1:]) for s in s_shapes]} vs "
                f"teacher {[tuple(t[1:]) for t in t_shapes]} (C, H, W at {imgsz}px); use a teacher whose "
                "Detect head sees the same strides"
            )
        self.distiller = FeatureDistiller(
            [s[1] for s in s_shapes],
            [t[1] for t in t_shapes],
            tau=a.kd_tau,
            weight=a.kd_weight,
            softmax=a.kd_softmax,
            attention=a.kd_attn_mode if a.kd_method == "cwd_attn" else "none",
            spatial_kernel=a.kd_spatial_kernel,
            channel_reduction=a.kd_channel_reduction,
        ).to(self.device)
        if self.resume:
            self._load_distiller_state()
        if RANK in {-1, 0}:
            n = sum(p.numel() for p in self.distiller.parameters())
            LOGGER.info(
                f"yolokd: {a.kd_method} from teacher {a.teacher}; levels student {[s[1] for s in s_shapes]} -> "
                f"teacher {[t[1] for t in t_shapes]} channels; {n:,} train-only parameters"
            )

    def _load_distiller_state(self) -> None:
        path = Path(self.args.resume).with_name(KD_STATE)
        if not path.is_file():
            LOGGER.warning(f"yolokd: {path} not found; the distillation modules restart from initialisation")
            return
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.distiller.load_state_dict(state["distiller"])
        LOGGER.info(f"yolokd: restored distillation modules from {path} (epoch {state['epoch'] + 1})")

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer plus one param group ("kd") for the train-only modules."""
        optimizer = super().build_optimizer(model, name, lr, momentum, decay, iterations)
        params = list(self.distiller.parameters()) if self.distiller is not None else []
        if params:  # same hyper-parameters as Ultralytics' decayed "weight" group (lr, betas/momentum, decay)
            weights = [g for g in optimizer.param_groups if g.get("param_group") == "weight"]
            ref = min(weights, key=lambda g: g["lr"])  # MuSGD also has a head group at 3x lr
            group = {k: v for k, v in ref.items() if k not in {"params", "use_muon"}}
            optimizer.add_param_group({**group, "params": params, "param_group": "kd"})
        return optimizer

    def get_validator(self):
        """Ultralytics' DetectionValidator, given the arguments without yolokd's keys (it re-validates them)."""
        args = IterableSimpleNamespace(**{k: v for k, v in vars(self.args).items() if k not in KD_DEFAULTS})
        return DetectionValidator(self.test_loader, save_dir=self.save_dir, args=args, _callbacks=self.callbacks)

    def label_loss_items(self, loss_items=None, prefix="train"):
        """Loss columns; ``val/kd_loss`` is left out, as validation runs the plain student criterion (it would be 0)."""
        items = super().label_loss_items(loss_items, prefix)
        if prefix != "val":
            return items
        if isinstance(items, dict):
            return {k: v for k, v in items.items() if k != "val/kd_loss"}
        return [k for k in items if k != "val/kd_loss"]

    def _setup_train(self) -> None:
        super()._setup_train()
        if self.distiller is not None:  # after ModelEMA's deepcopy: the EMA keeps the plain criterion
            student = unwrap_model(self.model)
            base = student.init_criterion()
            teacher = FeatureRecorder(self.teacher, detect_head(self.teacher, "teacher"))
            student.criterion = KDCriterion(base, teacher, self.distiller)

    def _model_train(self) -> None:
        super()._model_train()
        if self.distiller is not None:
            self.distiller.train()

    def optimizer_step(self) -> None:
        if self.distiller is not None and self.world_size > 1:
            average_gradients([p for p in self.distiller.parameters() if p.requires_grad])
        super().optimizer_step()

    def save_model(self) -> bool:
        saved = super().save_model()
        if self.distiller is not None:
            tmp = self.wdir / f".{KD_STATE}.tmp"
            torch.save({"epoch": self.epoch, "distiller": self.distiller.state_dict()}, tmp)
            os.replace(tmp, self.wdir / KD_STATE)  # atomic: never a half-written file
        return saved


def distill(
    student: str | Path = "yolov8n.yaml",
    teacher: str | Path | None = None,
    data: str | Path | None = None,
    method: str = "cwd_attn",
    **train_args: Any,
):
    """Train ``student`` on ``data`` under ``teacher`` and return the validation metrics (``DetMetrics``).

    ``method`` is ``kd_method`` (none, cwd, cwd_attn, native); other yolokd settings (``kd_tau=``,
    ``kd_weight=``, ...) and any Ultralytics train argument pass through ``train_args``.
    """
    overrides = {"model": str(student), "data": data, "kd_method": method, **train_args}
    if teacher is not None:
        overrides["teacher"] = str(teacher)
    kd, rest = split_settings(overrides)  # fail before any model is built
    model = rest.pop("model")
    if str(model).endswith(".pt") and not Path(model).is_file():
        raise SettingsError(f"student '{model}' not found; pass an existing .pt or a model .yaml such as yolov8n.yaml")
    return YOLO(model).train(trainer=DistillationTrainer, **rest, **kd)
