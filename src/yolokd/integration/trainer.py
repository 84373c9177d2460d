"""The Ultralytics integration: a DetectionTrainer that distils a frozen teacher into the student.

Every call into Ultralytics 8.4.190 internals lives in this module. How it plugs in:
- ``__init__``: yolokd settings are split off and validated, then stored on ``self.args``, so
  they reach ``args.yaml``, checkpoints' ``train_args`` (plain strings and floats) and the
  DDP workers, which Ultralytics rebuilds from ``type(trainer)`` and ``vars(trainer.args)``.
- ``__init__`` also loads the teacher (CPU, frozen, fused) and checks it against the dataset's
  class names, so bad input fails before any training starts.
- ``set_model_attributes`` (student on its device, before the optimizer exists): move the
  teacher there, probe both models' detection-head inputs, build the distiller.
- ``build_optimizer``: the distiller gets its own param groups (1-d parameters without weight
  decay), so warm-up and the LR schedule drive it, and its gradients are clipped like the
  student's; ``optimizer_step`` averages them across DDP ranks, and its initial values are
  broadcast from rank 0 (``broadcast_from_rank0``), after building and after resume.
- ``_handle_nan_recovery``: when Ultralytics rolls the student back to last.pt, the distiller
  is rolled back too.
- ``_setup_train``: after Ultralytics has built the EMA, the student's criterion is wrapped
  (:mod:`yolokd.criterion`) to add the distillation terms. The EMA, and so every checkpoint,
  never sees teacher or distiller.
- ``train``: the run folder is held (:mod:`yolokd.lock`) so a second process cannot train into it.
- ``save_model`` / ``final_eval``: every checkpoint is written to a temporary file and renamed;
  the distiller's state goes to ``weights/kd_last.pt`` beside ``last.pt`` for ``resume=True``.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from ultralytics import YOLO
from ultralytics.cfg import DEFAULT_CFG, get_save_dir
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator
from ultralytics.nn.modules.head import Detect
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils import LOCAL_RANK, LOGGER, RANK, YAML, IterableSimpleNamespace
from ultralytics.utils.torch_utils import strip_optimizer, torch_distributed_zero_first, unwrap_model

from yolokd.cfg import (
    KD_DEFAULTS,
    SettingsError,
    bare_name_hint,
    check_kd_settings,
    split_settings,
    with_recipe,
)
from yolokd.criterion import KDCriterion
from yolokd.distiller import Distiller, build_distiller
from yolokd.lock import FolderLock
from yolokd.losses.outputs import Outputs
from yolokd.recorder import FeatureRecorder, input_channels, probe_features

KD_STATE = "kd_last.pt"  # distiller state, saved beside last.pt


def detect_head(model: nn.Module, role: str) -> nn.Module:
    """The model's detection head (its last layer); a clear error if the model is not a detector."""
    head = model.model[-1] if isinstance(getattr(model, "model", None), nn.Sequential) else None
    if not isinstance(head, Detect):
        raise SettingsError(
            f"the {role} is not an Ultralytics detection model (its last layer is {type(head).__name__})"
        )
    return head


def load_teacher(path: str | Path, device: torch.device, role: str = "teacher") -> nn.Module:
    """Load a frozen, fused, eval-mode teacher from a checkpoint (the file is only read)."""
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
    """Make a detection model the frozen teacher yolokd runs: Conv+BN fused, eval mode, fp32, no grad."""
    detect_head(teacher, role)
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


def broadcast_from_rank0(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers of ``module`` to every rank (no-op without a process group).

    Ultralytics seeds each rank with ``seed + 1 + RANK``, so train-only modules built outside the DDP
    wrapper start different on every rank; DDP broadcasts only the modules it wraps."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    for t in [*module.parameters(), *module.buffers()]:
        dist.broadcast(t.data, src=0)


MAX_GRAD_NORM = 10.0  # Ultralytics 8.4.190 clips the student's gradients at this norm in optimizer_step


class DistillationTrainer(DetectionTrainer):
    """Ultralytics ``DetectionTrainer`` with feature distillation from a frozen teacher.

    Usable as ``YOLO("yolov8n.yaml").train(trainer=DistillationTrainer, teacher="t.pt", data=..., kd_method="cwd")``.
    """

    def __init__(self, cfg=DEFAULT_CFG, overrides: dict | None = None, _callbacks: dict | None = None) -> None:
        self.folder_lock: FolderLock | None = None
        try:
            self._init(cfg, overrides, _callbacks)
        except BaseException:  # a refused trainer may live on in a traceback: it must not keep its run folder held
            if self.folder_lock is not None:
                self.folder_lock.release()
            raise

    def _init(self, cfg, overrides: dict | None, _callbacks: dict | None) -> None:
        given = {k: v for k, v in (overrides or {}).items() if k in KD_DEFAULTS}  # what the user typed
        kd, overrides = split_settings(dict(overrides or {}))
        if kd["kd_method"] == "native":
            overrides["distill_model"] = kd["teacher"]
        super().__init__(cfg, overrides, _callbacks)
        if self.resume:  # the interrupted run's own settings win, as for Ultralytics' arguments
            saved = {k: getattr(self.args, k) for k in KD_DEFAULTS if hasattr(self.args, k)}
            kd = check_kd_settings(saved or kd)
            typed = check_kd_settings(given, require_teacher=False)
            if typed["teacher"]:
                typed["teacher"] = str(Path(typed["teacher"]).resolve())
            kept = [f"{k}={kd[k]} (not {typed[k]})" for k in KD_DEFAULTS if k in given and typed[k] != kd[k]]
            if kept and RANK in {-1, 0}:
                LOGGER.warning(
                    "yolokd: resume continues the run with its checkpoint's settings, so these were kept: "
                    f"{', '.join(kept)}; to train with new settings, start a new run from its weights instead"
                )
        vars(self.args).update(kd)
        if self.args.task != "detect":
            raise SettingsError(
                f"yolokd distils detection models; the student '{self.args.model}' is a "
                f"{self.args.task} model (use a detection .yaml/.pt such as yolov8n.yaml)"
            )
        if self.device.type == "cpu":  # Ultralytics leaves one core idle; all cores measured 1.7x faster on 2 cores
            torch.set_num_threads(min(8, os.cpu_count() or 1))
        if RANK in {-1, 0}:
            YAML.save(self.save_dir / "args.yaml", vars(self.args))  # again, now with the yolokd settings
        self.teacher: nn.Module | None = self._check_teacher() if self.args.kd_method != "none" else None
        self.distiller: Distiller | None = None

    def check_resume(self, overrides: dict) -> None:
        """Ultralytics' resume check; then an existing run folder (``exist_ok=True``, ``resume``) is held before
        Ultralytics writes its args.yaml, so a second process is refused before it touches the first one's run."""
        super().check_resume(overrides)
        self.folder_lock = None
        if RANK == -1 and (save_dir := get_save_dir(self.args)).is_dir():  # DDP workers run under the launcher's hold
            self.folder_lock = FolderLock(save_dir, "run folder")
            self.folder_lock.acquire()

    def train(self) -> None:
        """Ultralytics' training, with the run folder held (a new folder is held from here)."""
        if RANK != -1:
            return super().train()
        self.folder_lock = self.folder_lock or FolderLock(self.save_dir, "run folder")
        with self.folder_lock:
            return super().train()

    def _check_teacher(self) -> nn.Module | None:
        """Load the teacher on the CPU and check it against the dataset before any training starts."""
        a = self.args
        teacher = load_teacher(a.teacher, torch.device("cpu"))
        theirs, ours = list(teacher.names.values()), list(self.data["names"].values())
        if theirs != ours:
            msg = f"teacher '{a.teacher}' was trained on classes {theirs}, but the dataset has {ours}"
            if a.kd_method == "native":
                raise SettingsError(
                    f"{msg}; native distillation uses the teacher's class scores, so train the "
                    "teacher on this dataset (or use kd_method=cwd with kd_allow_class_mismatch=True)"
                )
            if self.uses_head:
                raise SettingsError(
                    f"{msg}; kd_cls, kd_box and kd_attn_mode=score use the teacher's class scores, so train the "
                    "teacher on this dataset (or distil features only: kd_cls=0 kd_box=0 and another kd_attn_mode)"
                )
            if not a.kd_allow_class_mismatch:
                raise SettingsError(
                    f"{msg}; train the teacher on this dataset, or pass kd_allow_class_mismatch=True "
                    f"to distil its features anyway"
                )
            LOGGER.warning(f"yolokd: {msg}; distilling features only, as kd_allow_class_mismatch=True")
        if (theirs := input_channels(teacher)) != (ours := int(self.data.get("channels", 3))):
            raise SettingsError(
                f"teacher '{a.teacher}' takes {theirs}-channel images, but the dataset has channels: {ours}; "
                "train the teacher on this dataset (or one with the same channels)"
            )
        return None if a.kd_method == "native" else teacher  # native: Ultralytics loads its own copy

    @property
    def uses_head(self) -> bool:
        """True when a setting distils the teacher's predictions (kd_cls, kd_box, kd_attn_mode=score)."""
        a = self.args
        return a.kd_cls > 0 or a.kd_box > 0 or (a.kd_method == "cwd_attn" and a.kd_attn_mode == "score")

    @property
    def feature_kd(self) -> bool:
        """True for the methods yolokd runs itself (cwd, cwd_attn, response)."""
        return self.args.kd_method in ("cwd", "cwd_attn", "response")

    def set_model_attributes(self) -> None:
        """Ultralytics' hook before the optimizer is built; also builds the distiller once."""
        super().set_model_attributes()
        if self.feature_kd and self.distiller is None:
            self._setup_distiller()

    def _setup_distiller(self) -> None:
        a = self.args
        self.teacher = self.teacher.to(self.device)
        if self.device.type == "cuda" and self.args.channels_last is not False:  # as Ultralytics does the student
            self.teacher = self.teacher.to(memory_format=torch.channels_last)
        student = unwrap_model(self.model)
        imgsz = 4 * max(int(student.stride.max()), int(self.teacher.stride.max()), 32)
        s_shapes = probe_features(student, detect_head(student, "student"), imgsz)
        t_shapes = probe_features(self.teacher, detect_head(self.teacher, "teacher"), imgsz)
        if len(s_shapes) != len(t_shapes) or any(s[2:] != t[2:] for s, t in zip(s_shapes, t_shapes)):
            raise SettingsError(
                f"teacher and student feature levels differ: student {[tuple(s[1:]) for s in s_shapes]} vs "
                f"teacher {[tuple(t[1:]) for t in t_shapes]} (C, H, W at {imgsz}px); use a teacher whose "
                "Detect head sees the same strides (e.g. no P6 teacher for a P5 student)"
            )
        s_head, t_head = detect_head(student, "student"), detect_head(self.teacher, "teacher")
        if a.kd_box > 0:
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
        self.distiller = build_distiller(
            vars(a), [s[1] for s in s_shapes], [t[1] for t in t_shapes], reg_max=s_head.reg_max
        ).to(self.device)
        broadcast_from_rank0(self.distiller)
        if RANK in {-1, 0}:
            n = sum(p.numel() for p in self.distiller.parameters())
            LOGGER.info(
                f"yolokd: {a.kd_method} from teacher {a.teacher}; levels student {[s[1] for s in s_shapes]} -> "
                f"teacher {[t[1] for t in t_shapes]} channels; {n:,} train-only parameters"
            )

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer plus param groups for the train-only modules: "kd" with the hyper-parameters of
        Ultralytics' "weight" group (lr, betas/momentum, decay; MuSGD: its 1x-lr group) and "kd_no_decay" for
        their 1-d parameters (biases, norm weights), undecayed like Ultralytics' bias and BN groups. Their
        gradients are clipped as Ultralytics clips the student's, after AMP unscaling (``scaler.step`` calls
        ``optimizer.step``, which runs the pre-step hook)."""
        optimizer = super().build_optimizer(model, name, lr, momentum, decay, iterations)
        params = list(self.distiller.parameters()) if self.distiller is not None else []
        if not params:
            return optimizer
        weights = [g for g in optimizer.param_groups if g.get("param_group") == "weight"]
        group = {k: v for k, v in min(weights, key=lambda g: g["lr"]).items() if k not in {"params", "use_muon"}}
        for name, ps, extra in (
            ("kd", [p for p in params if p.ndim > 1], {}),
            ("kd_no_decay", [p for p in params if p.ndim <= 1], {"weight_decay": 0.0}),
        ):
            if ps:
                optimizer.add_param_group({**group, **extra, "params": ps, "param_group": name})

        def clip(*_: Any) -> None:
            nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)

        optimizer.register_step_pre_hook(clip)
        return optimizer

    def _build_train_pipeline(self) -> None:
        """Ultralytics' loaders and weight-decay scaling; an out-of-memory retry (smaller batch) rescales the
        decayed groups it knows, and the distiller's decayed group follows the student's."""
        super()._build_train_pipeline()
        groups = {g.get("param_group"): g for g in (self.optimizer.param_groups if self.optimizer else [])}
        if "kd" in groups and "weight" in groups:
            groups["kd"]["weight_decay"] = groups["weight"]["weight_decay"]

    def get_validator(self):
        """Ultralytics' DetectionValidator, given the arguments without yolokd's keys (it re-validates them)."""
        args = IterableSimpleNamespace(**{k: v for k, v in vars(self.args).items() if k not in KD_DEFAULTS})
        return DetectionValidator(self.test_loader, save_dir=self.save_dir, args=args, _callbacks=self.callbacks)

    def save_metrics(self, metrics: dict) -> None:
        """Ultralytics' results.csv row plus the epoch's distillation statistics (``kd/w_*``, ``attn/*``), in every
        row whether or not the epoch was validated. Ultralytics writes the header once, with the first row's
        keys, so the columns stay the first row's: a key that appears later (a statistic first seen at the
        final validation with ``val=False``) or vanishes (after ``kd_stop``) would shift every value after it."""
        stats = getattr(getattr(unwrap_model(self.model), "criterion", None), "epoch_stats", None) or {}
        metrics = {**metrics, **stats}
        if self.csv.is_file():
            with open(self.csv, encoding="utf-8") as f:
                header = [k.strip() for k in f.readline().strip().split(",")[2:]]  # after epoch, time
            metrics = {k: metrics.get(k, float("nan")) for k in header}
        super().save_metrics(metrics)

    def label_loss_items(self, loss_items=None, prefix="train"):
        """Loss columns; ``val/kd_*`` are left out, as validation runs the plain student criterion (they would be 0)."""
        items = super().label_loss_items(loss_items, prefix)
        if prefix != "val":
            return items
        if isinstance(items, dict):
            return {k: v for k, v in items.items() if not k.startswith("val/kd_")}
        return [k for k in items if not k.startswith("val/kd_")]

    def _load_checkpoint_state(self, ckpt: dict) -> None:
        """Ultralytics' restore of optimizer, scaler and EMA; a checkpoint whose optimizer has other parameter
        groups (a run begun by yolokd 0.1.0, whose distiller had one group) is refused by name, not by torch."""
        saved = (ckpt.get("optimizer") or {}).get("param_groups")
        if saved is not None and len(saved) != len(self.optimizer.param_groups):
            raise SettingsError(
                f"'{self.args.resume}' cannot be resumed by this yolokd: its optimizer has {len(saved)} parameter "
                f"groups and this run's has {len(self.optimizer.param_groups)} (yolokd 0.2.0 split the distiller's "
                "into decayed weights and undecayed biases). Resume it with the yolokd that began it, or start the "
                "run again from its weights (model=.../last.pt, without resume)"
            )
        super()._load_checkpoint_state(ckpt)

    def _setup_train(self) -> None:
        super()._setup_train()  # ends with resume_training(): start_epoch and optimizer state are restored
        if self.distiller is None:
            return
        if self.resume:
            self._load_distiller_state(Path(self.args.resume), self.start_epoch)
            broadcast_from_rank0(self.distiller)
        student = unwrap_model(self.model)  # after ModelEMA's deepcopy: the EMA keeps the plain criterion
        teacher = TeacherRunner(self.teacher, need_head=self.distiller.needs_head)
        warn = LOGGER.warning if RANK in {-1, 0} else (lambda msg: None)
        student.criterion = KDCriterion(student.init_criterion(), teacher, self.distiller, student_outputs, warn)

    def _handle_nan_recovery(self, epoch: int) -> bool:
        """Ultralytics rolls the student back to last.pt after a NaN loss; the distiller goes back with it
        (``kd_last.pt`` is written with last.pt)."""
        recovered = super()._handle_nan_recovery(epoch)
        if recovered and self.distiller is not None:
            self._load_distiller_state(self.last, epoch)  # last.pt is the end of the epoch before this one
            broadcast_from_rank0(self.distiller)
        return recovered

    def _load_distiller_state(self, last: Path, start_epoch: int) -> None:
        """Load ``kd_last.pt`` beside ``last`` (written with it at the end of epoch ``start_epoch - 1``)."""
        path = last.with_name(KD_STATE)
        if not path.is_file():
            LOGGER.warning(f"yolokd: {path} not found; the distillation modules restart from initialisation")
            return
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.distiller.load_state_dict(state["distiller"])
        if state["epoch"] + 1 != start_epoch:  # a crash between writing the two files
            LOGGER.warning(
                f"yolokd: {path} is from epoch {state['epoch'] + 1}, the checkpoint from epoch "
                f"{start_epoch}; continuing with those distillation modules"
            )
        LOGGER.info(f"yolokd: restored distillation modules from {path} (epoch {state['epoch'] + 1})")

    def _model_train(self) -> None:
        super()._model_train()
        if self.distiller is not None:
            self.distiller.train()
            a = self.args
            self.distiller.set_epoch(self.epoch, self.epochs, a.kd_schedule, a.kd_stop)

    def optimizer_step(self) -> None:
        if self.distiller is not None and self.world_size > 1:
            average_gradients([p for p in self.distiller.parameters() if p.requires_grad])
        super().optimizer_step()

    def save_model(self) -> bool:
        """Ultralytics' checkpoints (last, best, ``save_period``'s epoch{N}.pt), written to temporary files and
        renamed: never half-written.

        The distiller's state is written first, so a crash between the two leaves it one epoch ahead
        of ``last.pt`` at worst (resume says so), never a broken file.
        """
        if self.distiller is not None:
            _atomic_save({"epoch": self.epoch, "distiller": self.distiller.state_dict()}, self.wdir / KD_STATE)
        last, best, period = self.last, self.best, self.save_period
        epoch_pt = self.wdir / f"epoch{self.epoch}.pt" if period > 0 and self.epoch % period == 0 else None
        for dst in (last, best, epoch_pt):  # a temporary left by a crash must not be renamed into place below
            if dst:
                _tmp(dst).unlink(missing_ok=True)
        self.last, self.best, self.save_period = _tmp(last), _tmp(best), -1  # epoch{N}.pt: written below
        try:
            saved = super().save_model()
        finally:
            self.last, self.best, self.save_period = last, best, period
        for dst in (last, best):
            if _tmp(dst).exists():
                os.replace(_tmp(dst), dst)
        if epoch_pt and last.exists():
            _atomic_copy(last, epoch_pt)
        return saved

    def final_eval(self) -> None:
        """Ultralytics' final validation of best.pt (8.4.190), with the optimizer stripped atomically."""
        model = self.best if self.best.exists() else None
        with torch_distributed_zero_first(LOCAL_RANK):
            if RANK in {-1, 0}:
                ckpt = _strip_atomic(self.last) if self.last.exists() else {}
                if model:
                    _strip_atomic(self.best, updates={"train_results": ckpt.get("train_results")})
        if model:
            LOGGER.info(f"\nValidating {model}...")
            self.validator.args.plots = self.args.plots
            self.validator.args.compile = False
            self.metrics = self.validator(model=model)
            self.metrics.pop("fitness", None)
            self.epoch += 1  # log best metrics at step epochs+1, as Ultralytics does
            self.run_callbacks("on_fit_epoch_end")
            self.epoch -= 1


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _atomic_copy(src: Path, dst: Path) -> None:
    _tmp(dst).write_bytes(src.read_bytes())
    os.replace(_tmp(dst), dst)


def _atomic_save(obj: Any, path: Path) -> None:
    torch.save(obj, _tmp(path))
    os.replace(_tmp(path), path)


def _strip_atomic(path: Path, updates: dict | None = None) -> dict:
    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # its own message would name the temporary file
    try:
        ckpt = strip_optimizer(path, s=str(_tmp(path)), updates=updates)
    finally:
        LOGGER.setLevel(level)
    if _tmp(path).exists():
        os.replace(_tmp(path), path)
        LOGGER.info(f"Optimizer stripped from {path}, {path.stat().st_size / 1e6:.1f}MB")
    return ckpt


def distill(
    student: str | Path = "yolov8n.yaml",
    teacher: str | Path | None = None,
    data: str | Path | None = None,
    method: str | None = None,
    **train_args: Any,
):
    """Train ``student`` on ``data`` under ``teacher`` and return the validation metrics (``DetMetrics``).

    ``method`` is ``kd_method`` (none, cwd, cwd_attn, response, native; default cwd, or the checkpoint's
    when resuming); other yolokd settings (``kd_tau=``,
    ``kd_weight=``, ``kd_cls=``, ...) and any Ultralytics train argument pass through ``train_args``;
    ``recipe=`` presets settings (``cfg.RECIPES``) where none of those gives another: the default recipe the
    benchmark's Adam, lr0 0.001, momentum 0.9; ``recipe="paper"`` the paper's settings.
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
    if not rest.get("resume") and not rest.get("project"):  # like `yolo train` run here, whatever Ultralytics'
        rest["project"] = str(Path.cwd() / "runs" / "detect")  # settings file remembers as runs_dir
    model = rest.pop("model")
    if str(model).endswith(".pt") and not Path(model).is_file():
        if rest.get("resume"):
            raise SettingsError(f"nothing to resume: '{model}' not found; pass model=path/to/weights/last.pt")
        raise SettingsError(
            f"student '{model}' not found; pass an existing .pt or a model .yaml such as yolov8n.yaml"
            + bare_name_hint(model)
        )
    yolo = YOLO(model)
    if str(model).endswith(".pt"):
        check_runs(yolo.model, model, (yolo.ckpt or {}).get("version"), "student")
    if yolo.task != "detect":
        raise SettingsError(f"yolokd distils detection models; the student '{model}' is a {yolo.task} model")
    stride = max(int(yolo.model.stride.max()), 32)
    imgsz = rest.get("imgsz", DEFAULT_CFG.imgsz)
    if isinstance(imgsz, int) and imgsz % stride:
        LOGGER.warning(
            f"yolokd: imgsz={imgsz} is not a multiple of the student's largest stride {stride}; Ultralytics will "
            f"train and validate at imgsz={math.ceil(imgsz / stride) * stride}"
        )
    return yolo.train(trainer=DistillationTrainer, **rest, **kd)
