"""The distillation trainers: Ultralytics' trainer of each task whose head is a Detect, with a frozen teacher
distilled into the student.

``DistillationMixin`` holds the distillation behaviour; each trainer is it over one of Ultralytics' trainers:
``DistillationTrainer`` over ``DetectionTrainer`` here, the segment, pose and obb ones in :mod:`.tasks`. How the
mixin plugs in (each override is short; the work is in the modules named):
- ``__init__``: yolokd settings are split off and validated (:mod:`yolokd.cfg`), then stored on ``self.args``,
  so they reach ``args.yaml``, checkpoints' ``train_args`` and the DDP workers, which Ultralytics rebuilds from
  ``type(trainer)`` and ``vars(trainer.args)``. The student's task must be the trainer's; the teacher is loaded
  and checked against the dataset and the student's task (:mod:`.models`), so bad input fails before training.
  ``kd_method=pseudo``: the teacher's labels for the ``unlabeled=`` images join the train split
  (:mod:`yolokd.data.pseudo`); nothing else of the trainer changes.
- ``set_model_attributes`` (student on its device, before the optimizer exists): the teacher moves there, both
  heads' inputs are probed and the distiller is built (:mod:`yolokd.distiller`, from :mod:`yolokd.methods`).
- ``build_optimizer``: the distiller's own param groups (:mod:`.optim`); ``optimizer_step`` averages their
  gradients across DDP ranks and their initial values are broadcast from rank 0 (:mod:`yolokd.distributed`).
- ``_setup_train``: after Ultralytics has built the EMA, the student's criterion (the task's own loss) is wrapped
  (:mod:`yolokd.criterion`). The EMA, and so every checkpoint, never sees teacher or distiller. With
  ``unlabeled=``, the stream of unlabeled images is built there (:mod:`.unlabeled`); ``preprocess_batch`` adds
  each step's to the batch, and ``_close_dataloader_mosaic`` closes its mosaic too.
- ``get_validator``: the task's own validator (``validator_class``), without yolokd's keys.
- ``train``: the run folder is held (:mod:`yolokd.lock`); ``save_model`` / ``final_eval`` write every file
  atomically and the distiller's state beside last.pt (:mod:`.run_files`).
"""

from __future__ import annotations

from copy import copy
from pathlib import Path

import torch
from torch import nn
from ultralytics.cfg import DEFAULT_CFG, get_save_dir
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator
from ultralytics.utils import LOGGER, RANK, YAML, IterableSimpleNamespace
from ultralytics.utils.torch_utils import unwrap_model

from yolokd import fingerprint, methods
from yolokd._env import all_cores, torch_threads
from yolokd.cfg import KD_DEFAULTS, SettingsError, resume_settings, split_settings, with_recipe
from yolokd.criterion import KDCriterion
from yolokd.data.pseudo import train_split
from yolokd.distiller import Distiller, build_distiller
from yolokd.distributed import average_gradients, broadcast_from_rank0
from yolokd.integration import optim, run_files
from yolokd.integration.models import (
    TeacherRunner,
    check_student_task,
    check_teacher,
    load_teacher,
    probe_levels,
    student_outputs,
)
from yolokd.integration.unlabeled import UnlabeledStream, build_stream
from yolokd.integration.weights import resolve_weights
from yolokd.lock import FolderLock


class DistillationMixin:
    """Distillation from a frozen teacher, over an Ultralytics trainer of a task whose head is a Detect.

    A subclass names the trainer it goes over (``class X(DistillationMixin, SegmentationTrainer)``), its task
    (``kd_task``, the student's task it trains) and that task's validator (``validator_class``).
    """

    kd_task: str  # the task of the students it trains
    validator_class: type  # Ultralytics' validator of that task (``self.validator`` is Ultralytics' instance)

    def __init__(self, cfg=DEFAULT_CFG, overrides: dict | None = None, _callbacks: dict | None = None) -> None:
        self.folder_lock: FolderLock | None = None
        try:
            self._init(cfg, overrides, _callbacks)
        except BaseException:  # a refused trainer may live on in a traceback: it must not keep its run folder held
            if self.folder_lock is not None:
                self.folder_lock.release()
            raise

    def _init(self, cfg, overrides: dict | None, _callbacks: dict | None) -> None:
        student_task = (overrides or {}).get("task")  # the model's, from YOLO().train; a task trainer sets its own
        given = {k: v for k, v in (overrides or {}).items() if k in KD_DEFAULTS}  # what the user typed
        kd, overrides = split_settings(with_recipe(dict(overrides or {})))  # every entry point: the same recipe
        if kd["kd_method"] != "none" and kd["teacher"] and not overrides.get("resume"):
            kd["teacher"] = resolve_weights(kd["teacher"], "teacher")  # yolov8l.pt: found or downloaded
        if methods.METHODS[kd["kd_method"]].by == "ultralytics":
            overrides["distill_model"] = kd["teacher"]
        with torch_threads():  # Ultralytics' select_device sets cpu_count - 1 threads process-wide; train() sets ours
            super().__init__(cfg, overrides, _callbacks)
        if self.resume:  # the interrupted run's own settings win, as for Ultralytics' arguments
            kd, kept = resume_settings({k: getattr(self.args, k) for k in KD_DEFAULTS if hasattr(self.args, k)}, given)
            if kept and RANK in {-1, 0}:
                LOGGER.warning(
                    "yolokd: resume continues the run with its checkpoint's settings, so these were kept: "
                    f"{', '.join(kept)}; to train with new settings, start a new run from its weights instead"
                )
        vars(self.args).update(kd)
        check_student_task(self.args.model, student_task or self.args.task, self.kd_task, type(self).__name__)
        pool = {}  # the unlabeled images' fingerprint, in args.yaml beside the settings (its folder, count, hash)
        if self.args.unlabeled and methods.uses_unlabeled(self.args.kd_method):
            pool = {"unlabeled_fingerprint": fingerprint.unlabeled(self.args.unlabeled)}  # no images: one line
            if getattr(self, "pool_began", None) and RANK in {-1, 0}:
                run_files.warn_changed_pool(self.pool_began, pool["unlabeled_fingerprint"])
        if RANK in {-1, 0}:
            YAML.save(self.save_dir / "args.yaml", {**vars(self.args), **pool})  # again, with the yolokd settings
        self.teacher: nn.Module | None = None
        if self.args.kd_method != "none":  # loaded on the CPU and checked before any training starts
            teacher = load_teacher(self.args.teacher, torch.device("cpu"))
            names, channels = list(self.data["names"].values()), int(self.data.get("channels", 3))
            check_teacher(teacher, vars(self.args), names, channels, self.kd_task)
            self.teacher = teacher if methods.distils(self.args.kd_method) else None  # native loads its own copy
        if methods.METHODS[self.args.kd_method].by == "pseudo":  # the teacher's labels join the train split
            out, make = self.save_dir / "pseudo", RANK in {-1, 0}  # DDP workers and resume reuse them
            with torch_threads():  # the predictor's select_device sets the process's threads, as above
                self.data["train"] = train_split(self.data["train"], vars(self.args), out, self.device, make)
        self.distiller: Distiller | None = None
        self.unlabeled: UnlabeledStream | None = None

    def check_resume(self, overrides: dict) -> None:
        """Ultralytics' resume check; then an existing run folder (``exist_ok=True``, ``resume``) is held before
        Ultralytics writes its args.yaml, so a second process is refused before it touches the first one's run;
        a resumed run's unlabeled pool, as its args.yaml recorded it, is read before that file is written again."""
        super().check_resume(overrides)
        self.folder_lock = None
        if RANK == -1 and (save_dir := get_save_dir(self.args)).is_dir():  # DDP workers run under the launcher's hold
            self.folder_lock = FolderLock(save_dir, "run folder")
            self.folder_lock.acquire()
        self.pool_began = run_files.recorded_pool(Path(self.args.resume).parents[1]) if self.resume else None

    def train(self) -> None:
        """Ultralytics' training, with the run folder held (a new folder is held from here), on every CPU core
        (:func:`yolokd._env.all_cores`) when on the CPU; the process's thread count is restored afterwards."""
        try:
            with torch_threads(all_cores() if self.device.type == "cpu" else None):
                if RANK != -1:
                    return super().train()
                self.folder_lock = self.folder_lock or FolderLock(self.save_dir, "run folder")
                with self.folder_lock:
                    return super().train()
        finally:
            if self.unlabeled is not None:  # its loader's workers do not outlive the training
                self.unlabeled.close()

    def set_model_attributes(self) -> None:
        """Ultralytics' hook before the optimizer is built; also builds the distiller once."""
        super().set_model_attributes()
        if not methods.distils(self.args.kd_method) or self.distiller is not None:
            return
        a = self.args
        self.teacher = self.teacher.to(self.device)
        if self.device.type == "cuda" and a.channels_last is not False:  # as Ultralytics does the student
            self.teacher = self.teacher.to(memory_format=torch.channels_last)
        levels = probe_levels(unwrap_model(self.model), self.teacher, a.kd_box)
        self.distiller = build_distiller(vars(a), levels.student, levels.teacher, levels.reg_max).to(self.device)
        broadcast_from_rank0(self.distiller)
        if RANK in {-1, 0}:
            n = sum(p.numel() for p in self.distiller.parameters())
            LOGGER.info(
                f"yolokd: {a.kd_method} from teacher {a.teacher}; levels student {list(levels.student)} -> "
                f"teacher {list(levels.teacher)} channels; {n:,} train-only parameters"
            )

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer plus the distiller's param groups (:func:`.optim.add_param_groups`)."""
        optimizer = super().build_optimizer(model, name, lr, momentum, decay, iterations)
        optim.add_param_groups(optimizer, list(self.distiller.parameters()) if self.distiller is not None else [])
        return optimizer

    def _build_train_pipeline(self) -> None:
        """Ultralytics' loaders and weight-decay scaling; the distiller's decayed group follows the student's, and
        the unlabeled stream the batch size (Ultralytics rebuilds the loaders with half the batch after an OOM)."""
        super()._build_train_pipeline()
        optim.follow_decay(self.optimizer)
        if self.unlabeled is not None:  # an OOM retry halved the batch: the unlabeled images per step follow
            self.unlabeled.close()
            self.unlabeled = build_stream(self)

    def get_validator(self):
        """The task's Ultralytics validator, given the arguments without yolokd's keys (it re-validates them)."""
        args = IterableSimpleNamespace(**{k: v for k, v in vars(self.args).items() if k not in KD_DEFAULTS})
        return self.validator_class(self.test_loader, save_dir=self.save_dir, args=args, _callbacks=self.callbacks)

    def save_metrics(self, metrics: dict) -> None:
        """Ultralytics' results.csv row plus the epoch's distillation statistics (``kd/w_*``, ``attn/*``), in every
        row whether or not the epoch was validated, in the columns of its first row (:func:`.run_files.aligned_row`).

        The statistics also join ``self.metrics``, in place of the last epoch's (NaN, no value this epoch, is left
        out): Ultralytics' loggers (TensorBoard, W&B, MLflow, ClearML, Comet) read it at ``on_fit_epoch_end``, which
        follows, and the checkpoints store it as ``train_metrics``. ``validate()`` sets it just before this on
        validated epochs; the epoch's statistics exist from ``criterion.update()`` on, before either."""
        stats = getattr(getattr(unwrap_model(self.model), "criterion", None), "epoch_stats", None) or {}
        super().save_metrics(run_files.aligned_row(self.csv, {**metrics, **stats}))
        kept = {k: v for k, v in self.metrics.items() if k not in stats}  # a non-validated epoch keeps the last dict
        self.metrics = {**kept, **{k: v for k, v in stats.items() if v == v}}

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
            self._restore_distiller(Path(self.args.resume), self.start_epoch)
        student = unwrap_model(self.model)  # after ModelEMA's deepcopy: the EMA keeps the plain criterion
        teacher = TeacherRunner(self.teacher, need_head=self.distiller.needs_head)
        warn = LOGGER.warning if RANK in {-1, 0} else (lambda msg: None)
        # on resume, Ultralytics' resume_training has set an end-to-end head's loss (E2ELoss) to its epoch's
        # one-to-many / one-to-one weights: that one is wrapped, so the schedule goes on where it stopped
        base = getattr(student, "criterion", None) if self.resume else None
        base = student.init_criterion() if base is None else base
        self.unlabeled = build_stream(self)
        weight = self.args.kd_unlabeled if self.unlabeled is not None else None
        student.criterion = KDCriterion(
            base, teacher, self.distiller, student_outputs, warn, self.args.kd_precision,
            forward=student, unlabeled_weight=weight, world=self.ranks,
        )  # fmt: skip

    @property
    def ranks(self) -> int:
        """The number of DDP ranks: Ultralytics' ``world_size``, which is 0 on the CPU and 1 on one GPU."""
        return max(self.world_size, 1)

    def preprocess_batch(self, batch: dict) -> dict:
        """Ultralytics' batch on the device; with ``unlabeled=``, the step's unlabeled images as
        ``batch["unlabeled_img"]`` (none in epochs that do not distil)."""
        batch = super().preprocess_batch(batch)
        if self.unlabeled is not None and self.distiller.scale != 0:
            batch["unlabeled_img"] = self.unlabeled.next(self.epoch, like=batch["img"])
        return batch

    def _close_dataloader_mosaic(self) -> None:
        super()._close_dataloader_mosaic()
        if self.unlabeled is not None:
            self.unlabeled.close_mosaic(copy(self.args))

    def _handle_nan_recovery(self, epoch: int) -> bool:
        """Ultralytics rolls the student back to last.pt after a NaN loss; the distiller goes back with it."""
        recovered = super()._handle_nan_recovery(epoch)
        if recovered and self.distiller is not None:
            self._restore_distiller(self.last, epoch)  # last.pt is the end of the epoch before this one
        return recovered

    def _restore_distiller(self, last: Path, start_epoch: int) -> None:
        run_files.load_distiller(self.distiller, last, start_epoch, self.device)
        broadcast_from_rank0(self.distiller)

    def _model_train(self) -> None:
        super()._model_train()
        if self.distiller is not None:
            self.distiller.train()
            self.distiller.set_epoch(self.epoch, self.epochs, self.args.kd_schedule, self.args.kd_stop)

    def optimizer_step(self) -> None:
        if self.distiller is not None and self.world_size > 1:
            average_gradients([p for p in self.distiller.parameters() if p.requires_grad])
        super().optimizer_step()

    def save_model(self) -> bool:
        """Ultralytics' checkpoints, never half-written; the distiller's state first (:mod:`.run_files`)."""
        if self.distiller is not None:
            run_files.save_distiller(self.distiller, self.epoch, self.wdir)
        return run_files.save_checkpoints(self, super().save_model)

    def final_eval(self) -> None:
        """Ultralytics' final validation of best.pt, with the optimizer stripped atomically."""
        run_files.final_eval(self)


class DistillationTrainer(DistillationMixin, DetectionTrainer):
    """Ultralytics ``DetectionTrainer`` with distillation from a frozen detect teacher (or a segment, pose or obb
    one, features only: :func:`.models.check_tasks`).

    Usable as ``YOLO("yolov8n.yaml").train(trainer=DistillationTrainer, teacher="t.pt", data=..., kd_method="cwd")``;
    the trainers of the other tasks are :func:`yolokd.trainer_for`'s.
    """

    kd_task = "detect"
    validator_class = DetectionValidator
